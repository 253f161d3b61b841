"""The platform's instruments measure what their names say, on scales that fit."""

from __future__ import annotations

import json
import subprocess
import sys

from opentelemetry.metrics import CallbackOptions

from dunlin_platform.metrics import GaugeBoard

_BATCH_DURATION_BUCKETS = """
import json
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
from dunlin_platform import metrics as m

for seconds in (0.004, 0.04, 0.4, 4.0):
    m.consumer_batch_seconds.record(seconds, {"group": "g"})
data = reader.get_metrics_data()
[point] = [
    p
    for rm in data.resource_metrics
    for sm in rm.scope_metrics
    for metric in sm.metrics
    if metric.name == "dunlin_consumer_batch_duration"
    for p in metric.data.data_points
]
print(json.dumps({"bounds": list(point.explicit_bounds), "counts": list(point.bucket_counts)}))
"""


def test_batch_durations_from_milliseconds_to_seconds_fall_in_different_buckets() -> None:
    # A fresh interpreter: the instruments bind to the first global meter provider.
    out = subprocess.run(
        [sys.executable, "-c", _BATCH_DURATION_BUCKETS], check=True, capture_output=True, text=True
    ).stdout
    histogram = json.loads(out)
    assert sorted(histogram["counts"], reverse=True)[:4] == [1, 1, 1, 1], histogram


def observed(board: GaugeBoard) -> list[tuple[float, dict[str, object]]]:
    return [(o.value, dict(o.attributes or {})) for o in board.observe()(CallbackOptions())]


def test_a_revoked_partition_stops_reporting_lag() -> None:
    board = GaugeBoard()
    board.set(1200, group="dunlin-risk-events", topic="invoicing.events", partition="3")
    board.set(7, group="dunlin-risk-events", topic="invoicing.events", partition="4")
    board.discard(topic="invoicing.events", partition="3")
    assert observed(board) == [
        (7, {"group": "dunlin-risk-events", "topic": "invoicing.events", "partition": "4"})
    ]


def test_a_partition_revoked_from_one_group_keeps_the_other_groups_lag() -> None:
    # As the consumer forgets a revoked partition: with its own group only.
    board = GaugeBoard()
    board.set(1200, group="dunlin-risk-events", topic="invoicing.events", partition="3")
    board.set(40, group="dunlin-dunning-events", topic="invoicing.events", partition="3")
    board.discard(group="dunlin-risk-events", topic="invoicing.events", partition="3")
    assert observed(board) == [
        (40, {"group": "dunlin-dunning-events", "topic": "invoicing.events", "partition": "3"})
    ]
