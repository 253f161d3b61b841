"""The platform's Prometheus/OpenTelemetry instruments, defined once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from opentelemetry.metrics import CallbackOptions, Observation

from dunlin_platform.telemetry import meter

_m = meter()

# The SDK's default buckets (0, 5, 10 ... 10000) suit milliseconds: in seconds every batch
# under 5 s would share one bucket, and its p95 would read ~4.75 s whatever it was.
_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

consumed_events = _m.create_counter(
    "dunlin_consumer_events", unit="1", description="Events taken from Kafka, by outcome"
)
consumer_batch_size = _m.create_histogram(
    "dunlin_consumer_batch_size",
    unit="1",
    description="Events per consumed batch",
    explicit_bucket_boundaries_advisory=[1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
)
consumer_batch_seconds = _m.create_histogram(
    "dunlin_consumer_batch_duration",
    unit="s",
    description="Time to apply one batch",
    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
)
dead_letters = _m.create_counter(
    "dunlin_dead_letters", unit="1", description="Messages sent to a dead-letter topic"
)
consumer_retries = _m.create_counter(
    "dunlin_consumer_retries", unit="1", description="Batch retries after transient faults"
)
outbox_published = _m.create_counter(
    "dunlin_outbox_published", unit="1", description="Outbox events published to Kafka"
)
outbox_publish_failures = _m.create_counter(
    "dunlin_outbox_publish_failures", unit="1", description="Outbox batches that failed to publish"
)


@dataclass
class GaugeBoard:
    """Latest values for observable gauges, updated by the loops that know them."""

    values: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = value

    def discard(self, **labels: str) -> None:
        """Forget every series carrying these labels, whatever its other labels."""
        # Matched as a subset: an exact key that missed one label (the consumer once forgot a
        # revoked partition without its group) left the series on /metrics for good.
        wanted = labels.items()
        for key in [k for k in self.values if wanted <= dict(k).items()]:
            del self.values[key]

    def observe(self) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(v, dict(k)) for k, v in list(self.values.items())]

        return callback


consumer_lag = GaugeBoard()
outbox_backlog = GaugeBoard()
outbox_oldest_age = GaugeBoard()

_m.create_observable_gauge(
    "dunlin_consumer_lag",
    callbacks=[consumer_lag.observe()],
    unit="1",
    description="Messages behind the partition's high-water mark",
)
_m.create_observable_gauge(
    "dunlin_outbox_backlog",
    callbacks=[outbox_backlog.observe()],
    unit="1",
    description="Outbox events not yet published",
)
_m.create_observable_gauge(
    "dunlin_outbox_oldest_age",
    callbacks=[outbox_oldest_age.observe()],
    unit="s",
    description="Age of the oldest unpublished outbox event",
)
