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
from dunlin_platform.kafka import MAX_RECORD_BYTES
from dunlin_platform.outbox import outbox_table
from dunlin_platform.relay import OutboxRelay
from dunlin_platform.relay_encoding import (
    OutboxRow,
    PartitionBatches,
    RecordTooLarge,
    encode_row,
)

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
    def __init__(self, capacity: int) -> None:
        self.keys: list[bytes] = []
        self._capacity = capacity

    def append(self, *, key: bytes, value: bytes, timestamp: None, headers: object) -> object:
        if len(self.keys) == self._capacity:
            return None  # full, as aiokafka's batch builder answers
        self.keys.append(key)
        return object()


class _FakeProducer:
    """Only what PartitionBatches uses: partitions, batches, and send_batch.

    `outcomes` decides how the broker answers a partition's batch (acknowledged by default):
    an exception fails it, and every answer comes after `delay_s`.
    """

    def __init__(
        self,
        partitions: dict[str, int],
        *,
        capacity: int = 1_000_000,
        outcomes: dict[tuple[str, int], Exception] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self._partitions = partitions
        self._capacity = capacity
        self._outcomes = outcomes or {}
        self._delay_s = delay_s
        self.sent: list[tuple[str, int, list[bytes]]] = []
        self.answered: list[tuple[str, int]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._partitions[topic]))

    def create_batch(self) -> _FakeBatch:
        return _FakeBatch(self._capacity)

    async def send_batch(self, batch: _FakeBatch, topic: str, *, partition: int) -> object:
        self.sent.append((topic, partition, batch.keys))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def answer() -> None:
            self.answered.append((topic, partition))
            error = self._outcomes.get((topic, partition))
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        asyncio.get_running_loop().call_later(self._delay_s, answer)
        return done


def _partition_of(key: bytes, partitions: int) -> int:
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def _keys_on(partition: int, partitions: int, count: int) -> list[bytes]:
    """`count` distinct account keys that the murmur2 partitioner puts on `partition`."""
    keys = (f"acc-{n}".encode() for n in range(10_000))
    return [k for k in keys if _partition_of(k, partitions) == partition][:count]


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
            assert _partition_of(key, count) == partition
    assert sorted(k for _, _, ks in producer.sent for k in ks) == sorted(keys)


async def test_a_full_partition_takes_nothing_more_in_the_round_while_the_others_do() -> None:
    producer = _FakeProducer({"t": 3}, capacity=2)
    batches = PartitionBatches(producer)
    crowded, quiet = _keys_on(0, 3, 4), _keys_on(1, 3, 3)
    order = [crowded[0], quiet[0], crowded[1], crowded[2], quiet[1], crowded[3], quiet[2]]

    slots = [await batches.append("t", KafkaRecord(key, b"{}", [])) for key in order]

    # The crowded partition's batch was full after two records: its third and fourth wait
    # for the next round (a second batch behind the first could be acknowledged alone).
    assert slots == [("t", 0), ("t", 1), ("t", 0), None, ("t", 1), None, None]
    assert batches.deferred == 3, "the quiet partition's third record found its batch full too"
    assert await batches.send_and_wait() == {}
    assert sorted((t, p, keys) for t, p, keys in producer.sent) == [
        ("t", 0, crowded[:2]),
        ("t", 1, quiet[:2]),
    ], "one batch per partition"


async def test_a_record_too_large_to_publish_holds_back_its_key_and_no_other() -> None:
    producer = _FakeProducer({"t": 1})
    batches = PartitionBatches(producer)
    # Key, value and headers count: 7 + 999,994 = one byte too many; 7 + 999,968 + 5 + 20 fit.
    big = KafkaRecord(b"acc-big", b"x" * (MAX_RECORD_BYTES - 6), [])
    fits = KafkaRecord(b"acc-big", b"x" * (MAX_RECORD_BYTES - 32), [("ce_id", b"1" * 20)])

    assert await batches.append("t", KafkaRecord(b"acc-big", b"{}", [])) == ("t", 0)
    with pytest.raises(RecordTooLarge, match="1,000,001 bytes for t"):
        await batches.append("t", big)
    assert await batches.append("t", KafkaRecord(b"acc-big", b"{}", [])) is None, "held back"
    assert await batches.append("t", KafkaRecord(b"acc-other", b"{}", [])) == ("t", 0)
    assert await PartitionBatches(producer).append("t", fits) == ("t", 0), "the limit is inclusive"
    assert batches.deferred == 0, "a held key is not a full batch: no immediate next round"


async def test_the_round_waits_for_every_batch_and_names_the_partitions_that_failed() -> None:
    refused = ConnectionError("the broker refused the batch")
    producer = _FakeProducer({"t": 3}, outcomes={("t", 1): refused}, delay_s=0.05)
    batches = PartitionBatches(producer)
    for partition in range(3):
        await batches.append("t", KafkaRecord(_keys_on(partition, 3, 1)[0], b"{}", []))

    failed = await batches.send_and_wait()

    assert failed == {("t", 1): refused}
    assert sorted(producer.answered) == [("t", 0), ("t", 1), ("t", 2)], "none left in flight"


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
