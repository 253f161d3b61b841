"""How the outbox relay turns outbox rows into Kafka produce batches.

The relay's per-event cost outside the broker is here: each row encoded as the CloudEvents
binary-mode record `encode_raw` would build (`encode_row`), and records gathered into one
produce batch per partition, each key hashed once per relay round (`PartitionBatches`).
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


class PartitionBatches:
    """Builds one produce batch per partition, so a relay round costs a few requests.

    Partitions are chosen with the Java-compatible murmur2 partitioner, the same one any
    other producer of these topics uses for the account key.
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        # An account's events usually come several to a batch: hash each key once per topic.
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._sent: list[asyncio.Future[Any]] = []

    async def append(self, topic: str, record: KafkaRecord) -> None:
        """Add a record to its partition's batch (by its key), sending the batch when full."""
        partition = self._partition_of.get((topic, record.key))
        if partition is None:
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = sorted(await self._producer.partitions_for(topic))
                self._partitions[topic] = partitions
            partition = self._partitioner(record.key, partitions, partitions)
            self._partition_of[topic, record.key] = partition
        slot = (topic, partition)
        batch = self._open.get(slot) or self._producer.create_batch()
        if not _add(batch, record):
            await self._flush(slot, batch)  # full: send it, start the next one in order
            batch = self._producer.create_batch()
            if not _add(batch, record):
                raise ValueError(f"an outbox event for {topic} is larger than a produce batch")
        self._open[slot] = batch

    async def _flush(self, slot: tuple[str, int], batch: Any) -> None:
        self._open.pop(slot, None)
        topic, partition = slot
        self._sent.append(await self._producer.send_batch(batch, topic, partition=partition))

    async def send_and_wait(self) -> None:
        """Send every batch still open and wait until the broker acknowledged them all."""
        for slot, batch in list(self._open.items()):
            await self._flush(slot, batch)
        await asyncio.gather(*self._sent)
