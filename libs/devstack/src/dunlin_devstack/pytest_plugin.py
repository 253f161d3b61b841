"""Pytest fixtures for every Dunlin test suite: a fresh database, a broker, private topics."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Protocol

import pytest
import pytest_asyncio

from dunlin_devstack import databases, testing
from dunlin_devstack.broker import ensure_topics

__all__ = [
    "MakeTopics",
    "database_url",
    "kafka_bootstrap_servers",
    "kafka_topics",
    "restartable_broker",
]


class MakeTopics(Protocol):
    """The `kafka_topics` factory: `await make("payments.events", partitions=3)`."""

    def __call__(self, *names: str, partitions: int = 3) -> Awaitable[list[str]]: ...


@pytest.fixture(scope="session")
def dunlin_postgres_server() -> Iterator[str]:
    """SQLAlchemy URL of the session's PostgreSQL server (env, Docker or embedded)."""
    with testing.postgres_server() as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(dunlin_postgres_server: str) -> AsyncIterator[str]:
    """SQLAlchemy asyncpg URL of a fresh database, dropped when the session ends."""
    name = f"dunlin_test_{uuid.uuid4().hex[:12]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    try:
        yield databases.with_database(dunlin_postgres_server, name)
    finally:
        await databases.drop_database(dunlin_postgres_server, name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kafka_bootstrap_servers() -> AsyncIterator[str]:
    """Bootstrap address of the session's Kafka-protocol broker (env, Docker or embedded)."""
    async with testing.kafka_server() as bootstrap:
        yield bootstrap


@pytest_asyncio.fixture(loop_scope="session")
async def kafka_topics(kafka_bootstrap_servers: str) -> AsyncIterator[MakeTopics]:
    """Factory of topics private to one test: each name gets a unique suffix."""
    suffix = uuid.uuid4().hex[:8]
    created: list[str] = []

    async def make(*names: str, partitions: int = 3) -> list[str]:
        unique = [f"{name}.{suffix}" for name in names]
        await ensure_topics(kafka_bootstrap_servers, unique, partitions=partitions)
        created.extend(unique)
        return unique

    yield make
    if created:
        await _delete_topics(kafka_bootstrap_servers, created)


@pytest_asyncio.fixture(loop_scope="session")
async def restartable_broker() -> AsyncIterator[testing.RestartableBroker]:
    """A private embedded broker the test can `await stop()` and `await start()` again."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("restartable_broker needs the embedded broker; KAFKA_BOOTSTRAP_SERVERS is set")
    broker = testing.RestartableBroker()
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    # Best effort: unique names already keep tests apart; deleting only saves broker memory.
    with contextlib.suppress(Exception):
        await admin.start()
        await admin.delete_topics(topics)
    with contextlib.suppress(Exception):
        await admin.close()
