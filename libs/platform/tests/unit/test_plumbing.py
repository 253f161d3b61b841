"""Pure parts of the plumbing: fault classification, backoff, clock, settings, spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.exc import IntegrityError, OperationalError

from dunlin_events import AccountRegistered, new_envelope
from dunlin_platform import router as router_module
from dunlin_platform import telemetry
from dunlin_platform.clock import ManualClock
from dunlin_platform.config import ServiceSettings
from dunlin_platform.errors import Backoff, is_transient
from dunlin_platform.router import EventRouter


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, ConnectionError("refused")),
        KafkaConnectionError("no broker"),
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.SerializationError("could not serialize"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
    ],
)
def test_infrastructure_faults_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("bad amount"),
        KeyError("missing"),
        asyncpg.exceptions.UniqueViolationError("duplicate"),
        # asyncpg's refusal to encode a parameter: an InterfaceError, as a closed connection is
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
    ],
)
def test_bad_input_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_retriable_kafka_error_is_transient() -> None:
    assert is_transient(UnknownTopicOrPartitionError())


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_the_manual_clock_only_moves_forward() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.advance(timedelta(days=31)) == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(datetime(2025, 12, 31, tzinfo=UTC))


def test_the_manual_clock_refuses_a_naive_moment() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    # A naive datetime would be read as the machine's local time, not UTC.
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 6, 1, 12))
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_settings_derive_schema_client_id_and_asyncpg_driver() -> None:
    settings = ServiceSettings(service_name="invoicing", database_url="postgresql://u@h:5432/d")
    assert settings.db_schema == "invoicing"
    assert settings.kafka_client_id == "dunlin-invoicing"
    assert settings.database_url == "postgresql+asyncpg://u@h:5432/d"
    assert settings.source == "/dunlin/invoicing"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://x@db/dunlin")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = ServiceSettings(service_name="payments")
    assert settings.database_url == "postgresql+asyncpg://x@db/dunlin"
    assert settings.kafka_bootstrap_servers == "kafka:9092"


@pytest.mark.parametrize(
    ("environment", "traces"),
    [
        ({}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
    ],
)
def test_an_otlp_endpoint_exports_traces_unless_otel_traces_exporter_says_none(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], traces: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert ServiceSettings(service_name="payments").otel_traces_exporter == traces


@pytest.mark.parametrize(
    ("environment", "exporters"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "otlp"},
            ["OTLPMetricExporter"],
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "console"},
            ["ConsoleMetricExporter"],
        ),
        ({"OTEL_METRICS_EXPORTER": "console"}, ["ConsoleMetricExporter"]),
    ],
)
def test_metrics_go_where_otel_metrics_exporter_says_besides_prometheus(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], exporters: list[str]
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    readers = telemetry._readers(ServiceSettings(service_name="payments"))
    assert type(readers[0]).__name__ == "PrometheusMetricReader"
    assert [type(r._exporter).__name__ for r in readers[1:]] == exporters  # type: ignore[attr-defined]


async def test_each_event_is_processed_in_a_span_that_continues_the_producer_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(router_module, "tracer", lambda: provider.get_tracer("test"))
    trace_id, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    event = AccountRegistered(
        account_id="acc-9", name="Acme", currency="EUR", payment_terms={"kind": "net", "days": 30}
    )
    envelope = new_envelope(event, source="/tests")
    envelope = type(envelope)(
        **{**envelope.__dict__, "traceparent": f"00-{trace_id}-{parent_span}-01"}
    )
    handled: list[Any] = []
    router = EventRouter()

    @router.on(AccountRegistered)
    async def remember(session: Any, env: Any) -> None:
        handled.append(env.id)

    await router(None, [envelope])  # type: ignore[arg-type]

    assert handled == [envelope.id]
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_span
    assert span.attributes is not None
    assert span.attributes["dunlin.account_id"] == "acc-9"


def test_a_second_handler_for_the_same_event_type_is_refused() -> None:
    router = EventRouter()

    async def handler(session: Any, env: Any) -> None:
        return None

    router.on(AccountRegistered)(handler)
    with pytest.raises(ValueError, match="already has a handler"):
        router.on(AccountRegistered)(handler)
