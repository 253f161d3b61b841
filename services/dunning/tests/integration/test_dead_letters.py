"""Bad input on a consumed topic goes to its dead-letter topic and processing continues."""

from __future__ import annotations

import uuid

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.topics import read_topic
from dunlin_events import encode, new_envelope, topics
from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings

from .support import Scenario


async def test_malformed_messages_are_dead_lettered_and_later_events_still_apply(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    marker = f"garbage-{uuid.uuid4().hex}".encode()
    record = encode(new_envelope(sc.account, source="/dunlin/test"))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.invoicing_events_topic, b"{not json", key=marker, headers=record.headers
        )
    finally:
        await producer.stop()
    await sc.invoicing(sc.account, sc.invoice("10.00", due_in_days=3))
    dlq = topics.dlq_topic(settings.invoicing_events_topic)
    dead = await read_topic(
        settings.kafka_bootstrap_servers, dlq, lambda m: m.key == marker, count=1
    )
    assert dead[0].value == b"{not json"
    assert (await sc.case())["outstanding"] == "10.00"
