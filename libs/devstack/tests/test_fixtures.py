"""The pytest plugin's fixtures give each test suite a working database and broker."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dunlin_devstack import databases, testing
from dunlin_devstack.pytest_plugin import MakeTopics


async def test_database_url_is_a_fresh_working_database(database_url: str) -> None:
    assert database_url.startswith("postgresql+asyncpg://")
    conn = await asyncpg.connect(databases.libpq_url(database_url))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert str(await conn.fetchval("SELECT current_database()")).startswith("dunlin_test_")
    finally:
        await conn.close()


def test_a_plain_postgres_database_url_gives_test_sessions_the_asyncpg_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app:s3cret@db.example:6432/dunlin")
    with testing.postgres_server() as url:
        assert url == "postgresql+asyncpg://app:s3cret@db.example:6432/dunlin"


async def test_kafka_topics_are_private_to_the_test(kafka_topics: MakeTopics) -> None:
    first = await kafka_topics("invoicing.events")
    second = await kafka_topics("invoicing.events")
    assert first == second  # one suffix per test
    assert first[0].startswith("invoicing.events.")
    assert first[0] != "invoicing.events"


async def test_the_broker_carries_a_message(
    kafka_bootstrap_servers: str, kafka_topics: MakeTopics
) -> None:
    [topic] = await kafka_topics("notifications.events", partitions=1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers, acks="all", enable_idempotence=False
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"acct-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=f"{topic}.group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        values = [m.value for messages in batches.values() for m in messages]
        await consumer.commit()
    finally:
        await consumer.stop()
    assert values == [b"hello"]
