"""Reading a topic from the beginning, for tests that check what a service published."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from dunlin_events import Envelope, Event, KafkaRecord, decode


async def read_topic(
    bootstrap: str,
    topic: str,
    match: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda _: True,
    *,
    count: int | None = None,
    within_s: float = 30.0,
    idle_s: float = 1.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The matching records from offset 0: until `count` match (TimeoutError after `within_s`),
    or, without a count, until the topic stays quiet for `idle_s`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(within_s):
            while count is None or len(found) < count:
                poll_ms = 200 if count is not None else int(idle_s * 1000)
                batch = await consumer.getmany(timeout_ms=poll_ms)
                if not batch and count is None:
                    break
                found += [m for messages in batch.values() for m in messages if match(m)]
    finally:
        await consumer.stop()
    return found


def envelope_of(record: ConsumerRecord[bytes, bytes]) -> Envelope[Event]:
    """Decode a consumed record into its CloudEvents envelope."""
    return decode(
        KafkaRecord(key=record.key or b"", value=record.value or b"", headers=list(record.headers))
    )
