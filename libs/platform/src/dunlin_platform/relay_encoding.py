"""How the outbox relay turns outbox rows into Kafka produce batches.

The relay's per-event cost outside the broker is here: each row encoded as the CloudEvents
binary-mode record `encode_raw` would build (`encode_row`), and records gathered into one
produce batch per partition and round, each key hashed once per round (`PartitionBatches`).
The relay itself (leadership, waking, marking, purging) is `dunlin_platform.relay`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from dunlin_events import KafkaRecord, encode_raw
from dunlin_events.envelope import CONTENT_TYPE, TRACEPARENT
from dunlin_platform.kafka import MAX_RECORD_BYTES


class OutboxRow(NamedTuple):
    """What the relay reads of an outbox row (its SELECT lists these columns in this order)."""

    seq: int
    id: str
    type: str
    source: str
    occurred_at: datetime
    aggregateid: str
    topic: str
    payload: str
    tracingspancontext: str | None


# The headers encode_raw writes first and last, already as bytes.
_SPECVERSION = ("ce_specversion", b"1.0")
_CONTENT_TYPE = ("content-type", CONTENT_TYPE.encode())


def encode_row(row: OutboxRow, traceparent: str | None) -> KafkaRecord:
    """`encode_raw` of an outbox row: the same record, byte for byte, built directly.

    encode_raw goes through the CloudEvents SDK (an event object, its validation, a header
    dict) for every row, the relay's largest cost per event after the broker. A row whose
    attributes that SDK would refuse (an empty id, type, source or subject, a naive time)
    takes encode_raw itself, so it fails exactly as before. Tests hold the two equal.
    """
    time = row.occurred_at
    if not (row.id and row.type and row.source and row.aggregateid and time.tzinfo):
        return _encode_row_via_sdk(row, traceparent)
    stamp = time.astimezone(UTC).isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[:-6] + "Z"
    subject = row.aggregateid.encode()
    headers = [
        _SPECVERSION,
        ("ce_id", row.id.encode()),
        ("ce_source", row.source.encode()),
        ("ce_type", row.type.encode()),
        ("ce_time", stamp.encode()),
        ("ce_subject", subject),
        _CONTENT_TYPE,
    ]
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode()))
    return KafkaRecord(key=subject, value=row.payload.encode(), headers=headers)


def _encode_row_via_sdk(row: OutboxRow, traceparent: str | None) -> KafkaRecord:
    return encode_raw(
        id=row.id,
        type=row.type,
        source=row.source,
        time=row.occurred_at,
        subject=row.aggregateid,
        data=row.payload.encode(),
        traceparent=traceparent,
    )


def _add(batch: Any, record: KafkaRecord) -> bool:
    """Append to a produce batch; False when the batch is full."""
    appended = batch.append(
        key=record.key, value=record.value, timestamp=None, headers=record.headers
    )
    return appended is not None


def record_size(record: KafkaRecord) -> int:
    """The bytes of a record's key, value and headers (its framing adds a few dozen)."""
    return (
        len(record.key)
        + len(record.value)
        + sum(len(name.encode()) + len(value) for name, value in record.headers)
    )


class RecordTooLarge(Exception):
    """A record larger than `MAX_RECORD_BYTES`: no broker of default configuration takes it."""

    def __init__(self, topic: str, size: int) -> None:
        super().__init__(
            f"a record of {size:,} bytes for {topic} is larger than the {MAX_RECORD_BYTES:,}"
            " bytes the relay publishes"
        )
        self.topic = topic
        self.size = size


Slot = tuple[str, int]
"""A topic and one of its partitions."""


class PartitionBatches:
    """One produce batch per partition for a relay round, so a round costs a few requests.

    Partitions are chosen with the Java-compatible murmur2 partitioner, the same one any
    other producer of these topics uses for the account key.

    At most one batch per partition per round: once a partition's batch is full, its later
    records wait for the next round (`append` returns None). A second batch sent behind the
    first could be acknowledged while the first failed (the producer fails a batch the
    broker refuses and goes on with the next), publishing an account's later events without
    an earlier one; with one batch per partition, what is acknowledged for a partition is
    all of the round's records of that partition, or none.

    A record larger than `MAX_RECORD_BYTES` raises RecordTooLarge (the producer would send
    it alone, and a broker refuse it on every round) and holds its key back for the round:
    that key's later records wait behind it, while other keys are published.
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        # An account's events usually come several to a batch: hash each key once per topic.
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self._open: dict[Slot, Any] = {}
        self._full: set[Slot] = set()
        self._held: set[tuple[str, bytes]] = set()
        self.deferred = 0
        """Records left for a later round because their partition's batch was full."""

    async def append(self, topic: str, record: KafkaRecord) -> Slot | None:
        """Add a record to its partition's batch (by its key); the partition it went to, or
        None when it waits for a later round."""
        key = record.key
        if self._held and (topic, key) in self._held:
            return None
        partition = self._partition_of.get((topic, key))
        if partition is None:
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = sorted(await self._producer.partitions_for(topic))
                self._partitions[topic] = partitions
            partition = self._partitioner(key, partitions, partitions)
            self._partition_of[topic, key] = partition
        slot = (topic, partition)
        if slot in self._full:
            self.deferred += 1
            return None
        # Counted exactly only for a large value (a record's headers are a few hundred bytes).
        if (
            len(record.value) > MAX_RECORD_BYTES // 2
            and (size := record_size(record)) > MAX_RECORD_BYTES
        ):
            self._held.add((topic, key))
            raise RecordTooLarge(topic, size)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        if not _add(batch, record):
            self._full.add(slot)
            self.deferred += 1
            return None
        return slot

    async def send_and_wait(self) -> dict[Slot, BaseException]:
        """Send every batch and wait until the broker answered for each; the partitions
        whose batch failed, with the error (the others' records are acknowledged)."""
        slots = list(self._open)
        sent = [
            await self._producer.send_batch(self._open[slot], slot[0], partition=slot[1])
            for slot in slots
        ]
        self._open.clear()
        outcomes = await asyncio.gather(*sent, return_exceptions=True)
        return {
            slot: outcome
            for slot, outcome in zip(slots, outcomes, strict=True)
            if isinstance(outcome, BaseException)
        }
