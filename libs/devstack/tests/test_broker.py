"""Embedded broker: start, topics, restarts on the same port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from dunlin_devstack.broker import EmbeddedBroker, answers_metadata, ensure_topics
from dunlin_devstack.testing import RestartableBroker


@pytest_asyncio.fixture(loop_scope="session")
async def broker() -> AsyncIterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    await embedded.start()
    yield embedded
    embedded.stop()


async def _partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


def _name(base: str) -> str:
    return f"{base}.{uuid.uuid4().hex[:6]}"


async def test_the_broker_starts_and_answers_metadata(broker: EmbeddedBroker) -> None:
    assert broker.running
    assert await answers_metadata(broker.bootstrap)


async def test_ensure_topics_creates_the_requested_partitions(broker: EmbeddedBroker) -> None:
    names = [_name("invoicing.events"), _name("invoicing.events.dlq")]
    await ensure_topics(broker.bootstrap, names, partitions=4)
    partitions = await _partitions(broker.bootstrap)
    assert [partitions[n] for n in names] == [4, 4]


async def test_ensure_topics_is_idempotent(broker: EmbeddedBroker) -> None:
    existing, new = _name("payments.events"), _name("payments.events.dlq")
    await ensure_topics(broker.bootstrap, [existing], partitions=2)
    await ensure_topics(broker.bootstrap, [existing, new], partitions=2)
    partitions = await _partitions(broker.bootstrap)
    assert partitions[existing] == partitions[new] == 2


async def test_stopping_the_broker_makes_it_unreachable(broker: EmbeddedBroker) -> None:
    broker.stop()
    assert not broker.running
    assert not await answers_metadata(broker.bootstrap)


async def test_restartable_broker_comes_back_on_the_same_port_with_its_topics(
    restartable_broker: RestartableBroker,
) -> None:
    bootstrap = restartable_broker.bootstrap
    [topic] = await restartable_broker.create_topics(_name("risk.events"), partitions=2)

    await restartable_broker.stop()
    assert not await answers_metadata(bootstrap)

    await restartable_broker.start()
    assert restartable_broker.bootstrap == bootstrap
    assert (await _partitions(bootstrap))[topic] == 2
