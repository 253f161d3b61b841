"""`dunlin-dlq` against the real broker and PostgreSQL: list, show, replay, discard, audit."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dunlin_devstack.broker import ensure_topics
from dunlin_devstack.topics import read_topic
from dunlin_events import AccountRegistered, encode, new_envelope
from dunlin_events.topics import dlq_topic
from dunlin_platform import dlq_cli
from dunlin_platform.config import ServiceSettings
from dunlin_platform.deadletter import VALUE_OMITTED, DeadLetter, DeadLetterPublisher
from dunlin_platform.kafka import ProducerHolder

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the platform producer's max_request_size

pytestmark = pytest.mark.asyncio(loop_scope="session")
TRACEPARENT = b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    assert await dlq_cli.run(["--database-url", database_url, "migrate"]) == 0
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def topic(kafka_bootstrap_servers: str) -> str:
    name = f"opsdlq-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap_servers, [name, dlq_topic(name)], partitions=1)
    return name


async def dead_letter(bootstrap: str, topic: str, *, account: str, error: str) -> str:
    """Put one dead letter on topic's DLQ exactly as the platform's consumer does; its ce_id."""
    event = AccountRegistered(
        account_id=account, name="Acme", currency="EUR", payment_terms={"kind": "net", "days": 30}
    )
    record = encode(new_envelope(event, source="/tests"))
    letter = DeadLetter(
        topic=topic,
        partition=0,
        offset=7,
        key=record.key,
        value=record.value,
        headers=(*record.headers, ("traceparent", TRACEPARENT)),
        group="tests",
        error_type="SchemaViolation",
        reason=error,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            dlq_topic(topic), letter.value, key=letter.key, headers=letter.dlq_headers()
        )
    finally:
        await producer.stop()
    return dict(record.headers)["ce_id"].decode()


def cli(database_url: str, bootstrap: str, *args: str) -> list[str]:
    return [
        "--database-url",
        database_url,
        "--bootstrap-servers",
        bootstrap,
        "--actor",
        "alice",
        *args,
    ]


async def test_list_shows_each_dead_letter_with_its_error_and_status(
    engine: AsyncEngine,
    topic: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = await dead_letter(kafka_bootstrap_servers, topic, account="A-1", error="bad amount")
    second = await dead_letter(kafka_bootstrap_servers, topic, account="A-2", error="no account")

    assert await dlq_cli.run(cli(database_url, kafka_bootstrap_servers, "list", topic)) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert first in lines[0]
    assert "SchemaViolation: bad amount" in lines[0]
    assert second in lines[1]
    assert "no account" in lines[1]
    assert all("pending" in line for line in lines)


async def test_show_prints_headers_key_and_payload(
    engine: AsyncEngine,
    topic: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ce_id = await dead_letter(kafka_bootstrap_servers, topic, account="A-3", error="boom")
    args = cli(database_url, kafka_bootstrap_servers, "show", topic, "--partition", "0")

    assert await dlq_cli.run([*args, "--offset", "0"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert shown["headers"]["ce_id"] == ce_id
    assert shown["headers"]["dlq_source_topic"] == topic
    assert shown["key"] == "A-3"
    assert shown["value"]["account_id"] == "A-3"


async def test_replay_sends_the_original_message_back_without_dlq_headers_and_audits_it(
    engine: AsyncEngine, topic: str, database_url: str, kafka_bootstrap_servers: str
) -> None:
    ce_id = await dead_letter(kafka_bootstrap_servers, topic, account="A-4", error="fixed since")
    args = cli(database_url, kafka_bootstrap_servers, "replay", topic)

    assert await dlq_cli.run([*args, "--partition", "0", "--offset", "0", "--reason", "v2"]) == 0

    [replayed] = await read_topic(kafka_bootstrap_servers, topic, count=1)
    headers = dict(replayed.headers)
    assert headers["ce_id"].decode() == ce_id  # the same id: the consumers' inbox dedupes it
    assert headers["traceparent"] == TRACEPARENT
    assert not [k for k in headers if k.startswith("dlq_")]
    assert replayed.key == b"A-4"
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT actor, action, source_topic, ce_id, reason FROM ops.dlq_actions"
                    " WHERE dlq_topic = :t"
                ),
                {"t": dlq_topic(topic)},
            )
        ).one()
    assert tuple(row) == ("alice", "replay", topic, ce_id, "v2")


async def test_replay_all_skips_what_was_discarded_or_replayed_before(
    engine: AsyncEngine,
    topic: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(3):
        await dead_letter(kafka_bootstrap_servers, topic, account=f"B-{n}", error="bug 42")
    discard = cli(database_url, kafka_bootstrap_servers, "discard", topic, "--partition", "0")
    assert await dlq_cli.run([*discard, "--offset", "1", "--reason", "duplicate from ERP"]) == 0

    replay_all = cli(database_url, kafka_bootstrap_servers, "replay", topic, "--all")
    assert await dlq_cli.run([*replay_all, "--reason", "bug 42 fixed"]) == 0
    assert await dlq_cli.run([*replay_all, "--reason", "again"]) == 0  # nothing left pending

    replayed = await read_topic(kafka_bootstrap_servers, topic, idle_s=1.0)
    assert sorted(r.key for r in replayed) == [b"B-0", b"B-2"]
    capsys.readouterr()
    assert await dlq_cli.run(cli(database_url, kafka_bootstrap_servers, "list", topic)) == 0
    statuses = [line.split()[2] for line in capsys.readouterr().out.splitlines()]
    assert statuses == ["replay", "discard", "replay"]


async def test_discard_needs_a_reason_and_an_existing_message(
    engine: AsyncEngine,
    topic: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await dead_letter(kafka_bootstrap_servers, topic, account="C-1", error="x")
    discard = cli(database_url, kafka_bootstrap_servers, "discard", topic)

    assert await dlq_cli.run([*discard, "--partition", "0", "--offset", "0"]) == 2
    assert await dlq_cli.run([*discard, "--partition", "0", "--offset", "9", "--reason", "r"]) == 1
    assert await dlq_cli.run([*discard, "--reason", "r"]) == 2  # neither a message nor --all
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM ops.dlq_actions WHERE dlq_topic = :t"),
            {"t": dlq_topic(topic)},
        )
    assert count == 0


async def test_an_unknown_topic_is_an_error(
    engine: AsyncEngine, database_url: str, kafka_bootstrap_servers: str
) -> None:
    missing = f"nope-{uuid.uuid4().hex[:8]}"
    assert await dlq_cli.run(cli(database_url, kafka_bootstrap_servers, "list", missing)) == 1


@pytest.mark.parametrize(
    "original_headers",
    [[("h", b"1")], [("h", b"1"), ("empty", None)]],
    ids=["headers", "a header without a value"],
)
async def test_a_letter_too_large_for_the_dlq_goes_without_its_message_and_replays_from_source(
    engine: AsyncEngine,
    topic: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    capsys: pytest.CaptureFixture[str],
    original_headers: list[tuple[str, bytes | None]],
) -> None:
    # A message near the limits: its copy in a letter (plus the dlq_* headers) is refused.
    value = b'{"padding": "' + b"x" * (MAX_REQUEST_BYTES + 1000) + b'"}'
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        max_request_size=2 * MAX_REQUEST_BYTES,
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=b"A-9", headers=original_headers)
    finally:
        await producer.stop()
    [record] = await _read_large(kafka_bootstrap_servers, topic)
    settings = ServiceSettings(
        service_name="tests",
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
    )
    producers = ProducerHolder(settings)
    producers.start()
    try:
        letter = DeadLetter.of(record, "tests", ValueError("not an event"), "not an event")
        await DeadLetterPublisher(producers).publish([letter])
    finally:
        await producers.stop()

    [dead] = await read_topic(kafka_bootstrap_servers, dlq_topic(topic), count=1)
    headers = dict(dead.headers)
    assert dead.value is None
    assert int(headers[VALUE_OMITTED]) >= len(value)
    assert (headers["dlq_source_topic"], headers["dlq_source_offset"]) == (
        topic.encode(),
        str(sent.offset).encode(),
    )
    assert headers["dlq_error"] == b"not an event"

    show = cli(database_url, kafka_bootstrap_servers, "show", topic, "--partition", "0")
    assert await dlq_cli.run([*show, "--offset", "0"]) == 0
    assert f"on {topic} partition 0@{sent.offset}" in json.loads(capsys.readouterr().out)["value"]

    args = cli(database_url, kafka_bootstrap_servers, "replay", topic, "--partition", "0")
    assert await dlq_cli.run([*args, "--offset", "0", "--reason", "limits raised"]) == 0

    _, replayed = await _read_large(kafka_bootstrap_servers, topic, count=2)
    assert (replayed.key, replayed.value) == (b"A-9", value)
    assert list(replayed.headers) == original_headers


async def _read_large(bootstrap: str, topic: str, *, count: int = 1) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * MAX_REQUEST_BYTES,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records += batch
    finally:
        await consumer.stop()
    return records
