"""The relay's direct record encoding against encode_raw (the CloudEvents SDK's binding)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from aiokafka.partitioner import murmur2
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import MetaData

from dunlin_events import KafkaRecord, encode_raw
from dunlin_platform import relay as relay_module
from dunlin_platform.config import ServiceSettings
from dunlin_platform.outbox import outbox_table
from dunlin_platform.relay import OutboxRelay
from dunlin_platform.relay_encoding import OutboxRow, PartitionBatches, encode_row

_ZONES = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))]
)


@st.composite
def rows(draw: st.DrawFn) -> OutboxRow:
    return OutboxRow(
        seq=draw(st.integers(min_value=1, max_value=2**62)),
        id=draw(st.text(max_size=40)),
        type=draw(st.text(max_size=40)),
        source=draw(st.text(max_size=40)),
        occurred_at=draw(st.datetimes(timezones=_ZONES)),
        aggregateid=draw(st.text(max_size=40)),
        topic="invoicing.events",
        payload=draw(st.text(max_size=200)),
        tracingspancontext=draw(st.none() | st.text(max_size=60)),
    )


def _via_sdk(row: OutboxRow, traceparent: str | None) -> object:
    try:
        return encode_raw(
            id=row.id,
            type=row.type,
            source=row.source,
            time=row.occurred_at,
            subject=row.aggregateid,
            data=row.payload.encode(),
            traceparent=traceparent,
        )
    except ValueError as exc:
        return ("refused", str(exc))


def _direct(row: OutboxRow, traceparent: str | None) -> object:
    try:
        return encode_row(row, traceparent)
    except ValueError as exc:
        return ("refused", str(exc))


@given(rows(), st.none() | st.text(max_size=60))
def test_every_row_encodes_exactly_as_encode_raw_does_refusals_included(
    row: OutboxRow, traceparent: str | None
) -> None:
    assert _direct(row, traceparent) == _via_sdk(row, traceparent)


def test_a_usual_row_has_the_sdk_headers_in_their_order_and_the_payload_as_value() -> None:
    row = OutboxRow(
        seq=7,
        id="0190b7c4-0000-7000-8000-000000000001",
        type="dunlin.invoicing.InvoiceIssued.v1",
        source="/dunlin/invoicing",
        occurred_at=dt.datetime(2025, 3, 10, 9, 30, 1, 250, tzinfo=dt.UTC),
        aggregateid="acc-1",
        topic="invoicing.events",
        payload='{"account_id":"acc-1"}',
        tracingspancontext="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )

    record = encode_row(row, row.tracingspancontext)

    assert record == _via_sdk(row, row.tracingspancontext)
    assert record.key == b"acc-1"
    assert record.value == b'{"account_id":"acc-1"}'
    assert [name for name, _ in record.headers] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
        "traceparent",
    ]
    assert dict(record.headers)["ce_time"] == b"2025-03-10T09:30:01.000250Z"


@pytest.mark.parametrize("empty", ["id", "type", "source", "aggregateid"])
def test_a_row_the_sdk_refuses_is_refused_the_same_way(empty: str) -> None:
    fields: dict[str, Any] = {
        "seq": 1,
        "id": "x",
        "type": "t",
        "source": "/s",
        "occurred_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "aggregateid": "acc",
        "topic": "t",
        "payload": "{}",
        "tracingspancontext": None,
    }
    row = OutboxRow(**{**fields, empty: ""})

    with pytest.raises(ValueError, match=empty.replace("aggregateid", "subject")):
        encode_row(row, None)


class _FakeBatch:
    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def append(self, *, key: bytes, value: bytes, timestamp: None, headers: object) -> object:
        self.keys.append(key)
        return object()


class _FakeProducer:
    """Only what PartitionBatches uses: partitions, batches, and send_batch."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self._partitions = partitions
        self.sent: list[tuple[str, int, list[bytes]]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._partitions[topic]))

    def create_batch(self) -> _FakeBatch:
        return _FakeBatch()

    async def send_batch(self, batch: _FakeBatch, topic: str, *, partition: int) -> object:
        self.sent.append((topic, partition, batch.keys))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_each_key_goes_to_its_murmur2_partition_per_topic_when_seen_again() -> None:
    producer = _FakeProducer({"six": 6, "five": 5})
    batches = PartitionBatches(producer)
    keys = [f"acc-{n % 7}".encode() for n in range(40)]
    for n, key in enumerate(keys):
        record = KafkaRecord(key=key, value=b"{}", headers=[])
        await batches.append("six" if n % 2 else "five", record)
    await batches.send_and_wait()

    for topic, partition, sent_keys in producer.sent:
        count = producer._partitions[topic]
        for key in sent_keys:
            assert (murmur2(key) & 0x7FFFFFFF) % count == partition
    assert sorted(k for _, _, ks in producer.sent for k in ks) == sorted(keys)


def test_a_traced_relay_publishes_each_row_in_a_span_of_the_stored_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(relay_module, "tracer", lambda: provider.get_tracer("test"))
    settings = ServiceSettings(
        service_name="invoicing",
        database_url="postgresql://u@h:5432/d",
        otel_traces_exporter="console",
    )
    table = outbox_table(MetaData(schema="invoicing"))
    relay = OutboxRelay(settings=settings, engine=None, table=table, producers=None)  # type: ignore[arg-type]
    trace_id, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    row = OutboxRow(
        seq=3,
        id="evt-1",
        type="dunlin.invoicing.AccountRegistered.v1",
        source="/dunlin/invoicing",
        occurred_at=dt.datetime(2025, 3, 10, tzinfo=dt.UTC),
        aggregateid="acc-9",
        topic="invoicing.events",
        payload='{"account_id":"acc-9"}',
        tracingspancontext=f"00-{trace_id}-{parent_span}-01",
    )

    record = relay._record(row)

    (span,) = exporter.get_finished_spans()
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_span
    assert span.attributes is not None
    assert span.attributes["messaging.destination.name"] == "invoicing.events"
    assert span.attributes["dunlin.account_id"] == "acc-9"
    published = f"00-{trace_id}-{format(span.context.span_id, '016x')}-01"
    assert record == encode_row(row, published)


def test_encode_row_is_still_importable_from_the_relay() -> None:
    assert relay_module.encode_row is encode_row
