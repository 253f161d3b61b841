"""A service-shaped schema per test, on the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, Identity, Integer, MetaData, String, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from dunlin_devstack.topics import read_topic
from dunlin_events import AccountRegistered, Envelope, Event, KafkaRecord, encode, new_envelope
from dunlin_platform.config import ServiceSettings
from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import ConsumerSpec, PlatformTables, ServiceRuntime
from dunlin_platform.testing import create_schema, drop_schema


def account_registered(account_id: str, name: str = "Acme") -> AccountRegistered:
    """A minimal valid event for account_id; name carries test ordinals."""
    return AccountRegistered(
        account_id=account_id,
        name=name,
        currency="EUR",
        payment_terms={"kind": "net", "days": 30},
    )


def record_of(event: AccountRegistered, *, event_id: str | None = None) -> KafkaRecord:
    return encode(new_envelope(event, source="/tests", id=event_id))


async def eventually(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Wait until the predicate holds; fail with a message otherwise."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def produce(bootstrap: str, topic: str, records: list[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def produce_raw(
    bootstrap: str, topic: str, value: bytes, headers: list[tuple[str, bytes]], key: bytes
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, topic: str, *, idle_s: float = 1.5) -> list[Any]:
    """Everything on a topic from the beginning, until it stays quiet."""
    return await read_topic(bootstrap, topic, idle_s=idle_s, within_s=120)


@dataclass
class Harness:
    """One test's schema, tables and a factory for runtimes over them."""

    settings: ServiceSettings
    metadata: MetaData
    tables: PlatformTables
    effects: Table
    engine: AsyncEngine

    def runtime(
        self,
        *,
        topics: list[str] | None = None,
        handler: Any = None,
        run_relay: bool = True,
        **overrides: Any,
    ) -> ServiceRuntime:
        settings = self.settings.model_copy(update=overrides)
        consumers = [ConsumerSpec("test", topics, handler or self.record_effects)] if topics else []
        return ServiceRuntime(
            settings, tables=self.tables, consumers=consumers, run_relay=run_relay
        )

    async def record_effects(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]
    ) -> None:
        rows = [
            {"event_id": e.id, "account": e.subject, "name": getattr(e.data, "name", "")}
            for e in envelopes
        ]
        await session.execute(insert(self.effects), rows)

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql.replace("{s}", self.schema)))).scalar()

    async def effects_rows(self) -> list[tuple[str, str, str]]:
        async with self.engine.connect() as conn:
            query = text(f'SELECT event_id, account, name FROM "{self.schema}".effects ORDER BY n')
            return [(r[0], r[1], r[2]) for r in (await conn.execute(query)).all()]

    @property
    def schema(self) -> str:
        return str(self.metadata.schema)


@pytest_asyncio.fixture(loop_scope="session")
async def harness(database_url: str, kafka_bootstrap_servers: str) -> AsyncIterator[Harness]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    metadata = service_metadata(schema)
    tables = PlatformTables.define(metadata)
    # No unique key on event_id: a doubled effect must show up as a count, not an error.
    effects = Table(
        "effects",
        metadata,
        Column("n", Integer, Identity(), primary_key=True),
        Column("event_id", String(64), nullable=False),
        Column("account", String(100), nullable=False),
        Column("name", String(200), nullable=False),
    )
    settings = ServiceSettings(
        service_name=schema,
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        consumer_batch_size=50,
        consumer_poll_timeout_ms=100,
        consumer_max_backoff_s=0.5,
        outbox_batch_size=100,
        outbox_poll_interval_s=1.0,
    )
    engine = create_async_engine(database_url)
    await create_schema(engine, metadata)
    try:
        yield Harness(settings, metadata, tables, effects, engine)
    finally:
        await drop_schema(engine, schema)
        await engine.dispose()


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    """Create topics (and nothing else) for one test."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
