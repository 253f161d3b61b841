"""Servers for test sessions: env-configured, Docker (testcontainers) or embedded."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections.abc import AsyncIterator, Iterator

from dunlin_devstack.broker import EmbeddedBroker, ensure_topics
from dunlin_devstack.databases import asyncpg_url
from dunlin_devstack.paths import dunlin_home
from dunlin_devstack.postgres import EmbeddedPostgres

POSTGRES_IMAGE = "postgres:17-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.7.1"


@functools.cache
def docker_available() -> bool:
    """Return whether a Docker engine answers a ping (`DUNLIN_USE_DOCKER=0` forces no)."""
    if os.environ.get("DUNLIN_USE_DOCKER", "").lower() in ("0", "false", "no"):
        return False
    try:
        # By name: the docker SDK ships no type hints and comes with testcontainers (dev only).
        client = importlib.import_module("docker").from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, no daemon: all mean "no Docker"
        return False


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a server to create test databases on."""
    if url := os.environ.get("DATABASE_URL"):
        yield asyncpg_url(url)
    elif docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(POSTGRES_IMAGE, driver="asyncpg") as container:
            yield str(container.get_connection_url())
    else:
        # Kept across sessions: initdb is the slow part; each session gets its own database.
        server = EmbeddedPostgres(dunlin_home() / "test-pgdata")
        server.start()
        try:
            yield server.url()
        finally:
            server.stop()


@contextlib.asynccontextmanager
async def kafka_server() -> AsyncIterator[str]:
    """Yield the bootstrap address of a Kafka-protocol broker for the test session."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
    elif docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE) as container:
            yield str(container.get_bootstrap_server())
    else:
        broker = EmbeddedBroker()
        await broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()


class RestartableBroker:
    """A private embedded broker a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self._broker = EmbeddedBroker()
        self.topics: dict[str, int] = {}

    @property
    def bootstrap(self) -> str:
        """The `host:port` address; it stays the same across restarts."""
        return self._broker.bootstrap

    @property
    def running(self) -> bool:
        """Whether the broker is up."""
        return self._broker.running

    async def create_topics(self, *names: str, partitions: int = 3) -> list[str]:
        """Create `names` now and again after every restart (the broker forgets them)."""
        self.topics.update(dict.fromkeys(names, partitions))
        if self.running:
            await ensure_topics(self.bootstrap, names, partitions=partitions)
        return list(names)

    async def start(self) -> None:
        """Start (again) on the same port and recreate the remembered topics."""
        await self._broker.start()
        for partitions in set(self.topics.values()):
            names = [name for name, count in self.topics.items() if count == partitions]
            await ensure_topics(self.bootstrap, names, partitions=partitions)

    async def stop(self) -> None:
        """Stop the broker; clients see it as down (messages in it are lost)."""
        self._broker.stop()
