"""The batched idempotent consumer against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dunlin_events.topics import dlq_topic
from dunlin_platform.consumer import BatchConsumer, RejectEvent

from .conftest import (
    Harness,
    account_registered,
    consume_all,
    create_topics,
    eventually,
    produce,
    produce_raw,
    record_of,
    unique_topic,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Crash(BaseException):
    """Stands for the process dying: nothing in the consumer may catch it."""


async def run_until(harness: Harness, runtime: Any, count: int) -> None:
    await runtime.start()
    await eventually(lambda: _has(harness, count), what=f"{count} effects", within=60)


async def _has(harness: Harness, count: int) -> bool:
    return bool(await harness.scalar('SELECT count(*) FROM "{s}".effects') >= count)


async def test_the_same_ce_id_delivered_twice_has_one_effect(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("dup")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    same_id = str(uuid.uuid4())
    first = record_of(account_registered("acc-1", "first"), event_id=same_id)
    again = record_of(account_registered("acc-1", "first"), event_id=same_id)
    other = record_of(account_registered("acc-1", "other"))
    await produce(kafka_bootstrap_servers, topic, [first, again])
    runtime = harness.runtime(topics=[topic], run_relay=False)
    await run_until(harness, runtime, 1)
    await produce(kafka_bootstrap_servers, topic, [again, other])  # redelivered in a later batch
    await eventually(lambda: _has(harness, 2), what="the other event")
    await runtime.stop()

    rows = await harness.effects_rows()
    assert sorted(name for _, _, name in rows) == ["first", "other"]
    assert await harness.scalar('SELECT count(*) FROM "{s}".inbox') == 2


async def test_the_broker_holds_a_fetch_for_idle_partitions_only_as_long_as_configured(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    # aiokafka has one fetch per broker in flight: while a fetch for partitions with nothing
    # new waits (up to fetch_max_wait_ms), a busy partition that ran dry is not fetched.
    topic = unique_topic("fetch-wait")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    await produce(kafka_bootstrap_servers, topic, [record_of(account_registered("acc-1", "x"))])
    runtime = harness.runtime(topics=[topic], run_relay=False, consumer_fetch_max_wait_ms=70)
    await run_until(harness, runtime, 1)
    try:
        [consumer] = runtime.consumers
        fetcher = consumer._consumer._fetcher  # type: ignore[union-attr]
        assert fetcher._fetch_max_wait_ms == 70
    finally:
        await runtime.stop()


async def test_poison_messages_go_to_the_dlq_with_their_origin_and_the_next_one_is_processed(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("poison")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    good = record_of(account_registered("acc-2", "after the poison"))
    headers = dict(good.headers)
    await produce_raw(kafka_bootstrap_servers, topic, b"\x00not json", [], b"acc-2")
    unknown = {**headers, "ce_type": b"dunlin.nowhere.Mystery.v1"}
    await produce_raw(kafka_bootstrap_servers, topic, good.value, list(unknown.items()), b"acc-2")
    wrong_schema = b'{"account_id": "acc-2", "name": 42}'
    await produce_raw(kafka_bootstrap_servers, topic, wrong_schema, good.headers, b"acc-2")
    await produce(kafka_bootstrap_servers, topic, [good])

    runtime = harness.runtime(topics=[topic], run_relay=False)
    await run_until(harness, runtime, 1)
    await runtime.stop()

    assert [name for _, _, name in await harness.effects_rows()] == ["after the poison"]
    letters = await consume_all(kafka_bootstrap_servers, dlq_topic(topic))
    assert len(letters) == 3
    for offset, letter in enumerate(letters):
        h = {k: v.decode() for k, v in letter.headers}
        assert h["dlq_source_topic"] == topic
        assert h["dlq_source_partition"] == "0"
        assert h["dlq_source_offset"] == str(offset)
        assert h["dlq_consumer_group"] == runtime.consumers[0].group_id
        assert h["dlq_error"]
    errors = [dict(m.headers)["dlq_error_type"].decode() for m in letters]
    assert errors == ["MalformedMessage", "UnknownEventType", "SchemaViolation"]
    assert letters[0].value == b"\x00not json", "the original bytes are kept for replay"


async def test_an_event_a_business_rule_rejects_is_dead_lettered_alone(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    async def refuse(session: Any) -> None:
        raise RejectEvent("credit limit exceeded")

    error = await _the_middle_one_dead_lettered(harness, kafka_bootstrap_servers, refuse)
    assert error == b"credit limit exceeded"


async def test_a_value_the_database_driver_cannot_encode_is_dead_lettered_not_retried(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    async def unencodable(session: Any) -> None:
        # asyncpg refuses 2**40 for an int4 parameter before anything is sent.
        await session.execute(text("SELECT CAST(:v AS integer)"), {"v": 2**40})

    error = await _the_middle_one_dead_lettered(harness, kafka_bootstrap_servers, unencodable)
    assert b"invalid input for query argument" in error


async def _the_middle_one_dead_lettered(
    harness: Harness, bootstrap: str, fail: Callable[[Any], Awaitable[None]]
) -> bytes:
    """Three events whose handler calls `fail` for the middle one: the other two are applied
    and the middle one alone is dead-lettered; its letter's dlq_error."""
    topic = unique_topic("middle")
    await create_topics(bootstrap, topic, dlq_topic(topic))
    names = ["ok-1", "bad", "ok-2"]
    await produce(bootstrap, topic, [record_of(account_registered("acc-3", n)) for n in names])

    async def handler(session: Any, envelopes: list[Any]) -> None:
        for envelope in envelopes:
            if envelope.data.name == "bad":
                await fail(session)
        await harness.record_effects(session, envelopes)

    runtime = harness.runtime(topics=[topic], handler=handler, run_relay=False)
    await run_until(harness, runtime, 2)
    await eventually(lambda: _dlq_count(bootstrap, topic, 1), what="the dead letter")
    await runtime.stop()

    assert sorted(name for _, _, name in await harness.effects_rows()) == ["ok-1", "ok-2"]
    (letter,) = await consume_all(bootstrap, dlq_topic(topic))
    return bytes(dict(letter.headers)["dlq_error"])


async def _dlq_count(bootstrap: str, topic: str, count: int) -> bool:
    return len(await consume_all(bootstrap, dlq_topic(topic), idle_s=0.3)) >= count


@pytest.mark.parametrize(
    "fault",
    [
        OperationalError("INSERT", {}, ConnectionError("server closed the connection")),
        KafkaConnectionError("broker gone"),
    ],
    ids=["database", "broker"],
)
async def test_a_transient_fault_is_retried_without_losing_the_batch(
    harness: Harness, kafka_bootstrap_servers: str, fault: Exception
) -> None:
    topic = unique_topic("transient")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    await produce(
        kafka_bootstrap_servers,
        topic,
        [record_of(account_registered("acc-4", f"n{i}")) for i in range(20)],
    )
    failures = {"left": 3}

    async def flaky(session: Any, envelopes: list[Any]) -> None:
        await harness.record_effects(session, envelopes)
        if failures["left"]:
            failures["left"] -= 1
            raise fault

    runtime = harness.runtime(topics=[topic], handler=flaky, run_relay=False)
    await run_until(harness, runtime, 20)
    await runtime.stop()

    assert failures["left"] == 0
    rows = await harness.effects_rows()
    assert len(rows) == 20
    assert len({r[0] for r in rows}) == 20
    assert await consume_all(kafka_bootstrap_servers, dlq_topic(topic), idle_s=0.3) == []


@pytest.mark.parametrize("crash_point", ["inside the transaction", "after commit, before offsets"])
async def test_a_consumer_killed_mid_batch_and_restarted_loses_nothing_and_doubles_nothing(
    harness: Harness, kafka_bootstrap_servers: str, crash_point: str
) -> None:
    topic = unique_topic("crash")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=2)
    events = [record_of(account_registered(f"acc-{i % 7}", f"n{i}")) for i in range(300)]
    await produce(kafka_bootstrap_servers, topic, events)
    batches = {"seen": 0}

    async def dies_on_third_batch(session: Any, envelopes: list[Any]) -> None:
        await harness.record_effects(session, envelopes)
        batches["seen"] += 1
        if crash_point == "inside the transaction" and batches["seen"] == 3:
            raise Crash

    first = harness.runtime(topics=[topic], handler=dies_on_third_batch, run_relay=False)
    consumer: BatchConsumer = first.consumers[0]
    if crash_point == "after commit, before offsets":
        original_commit = consumer._commit

        async def commit_then_die(*args: Any) -> None:
            if batches["seen"] == 3:
                raise Crash
            await original_commit(*args)

        consumer._commit = commit_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        await consumer.run()
    await first.stop()
    applied_before_restart = len(await harness.effects_rows())
    assert 0 < applied_before_restart < 300

    second = harness.runtime(topics=[topic], run_relay=False)
    await run_until(harness, second, 300)
    await asyncio.sleep(1)  # give a doubled batch the chance to show up
    await second.stop()

    rows = await harness.effects_rows()
    assert len(rows) == 300, "every event applied exactly once"
    assert {name for _, _, name in rows} == {f"n{i}" for i in range(300)}


async def test_the_inbox_claims_only_ids_it_has_not_seen(harness: Harness) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from dunlin_platform.inbox import claim_new

    async def claim(ids: list[str], consumer: str = "c") -> set[str]:
        async with async_sessionmaker(harness.engine)() as session, session.begin():
            return await claim_new(
                session, table=harness.tables.inbox, consumer=consumer, event_ids=ids
            )

    assert await claim([]) == set()
    assert await claim(["a", "b"]) == {"a", "b"}
    assert await claim(["a", "b"]) == set()
    assert await claim(["b", "c", "d"]) == {"c", "d"}
    assert await claim(["e", "e"]) == {"e"}
    assert await claim(["a"], consumer="other") == {"a"}


async def test_claim_all_records_new_ids_and_refuses_a_known_one(harness: Harness) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from dunlin_platform.inbox import AlreadyClaimed, claim_all, claim_new

    sessions = async_sessionmaker(harness.engine)
    inbox = harness.tables.inbox
    async with sessions() as session, session.begin():
        await claim_all(session, table=inbox, consumer="c", event_ids=["a", "b"])
    with pytest.raises(AlreadyClaimed):
        async with sessions() as session, session.begin():
            await claim_all(session, table=inbox, consumer="c", event_ids=["c", "b"])
    async with sessions() as session, session.begin():
        await claim_all(session, table=inbox, consumer="other", event_ids=["a"])
        # The refused claim left nothing behind: "c" is still new.
        assert await claim_new(session, table=inbox, consumer="c", event_ids=["a", "c"]) == {"c"}


@pytest.mark.parametrize("first_commits", [True, False], ids=["committed", "rolled-back"])
async def test_a_claim_waits_for_a_concurrent_claim_of_the_same_id(
    harness: Harness, first_commits: bool
) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from dunlin_platform.inbox import AlreadyClaimed, claim_all, claim_new

    sessions = async_sessionmaker(harness.engine)
    inbox = harness.tables.inbox
    async with sessions() as first:
        await first.begin()
        await claim_all(first, table=inbox, consumer="c", event_ids=["x"])

        async def second() -> set[str]:
            async with sessions() as session, session.begin():
                await claim_all(session, table=inbox, consumer="c", event_ids=["x", "y"])
                return {"x", "y"}

        waiting = asyncio.ensure_future(second())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second claim must wait for the first transaction"
        await (first.commit() if first_commits else first.rollback())
    if first_commits:
        with pytest.raises(AlreadyClaimed):
            await waiting
        async with sessions() as session, session.begin():
            fresh = await claim_new(session, table=inbox, consumer="c", event_ids=["x", "y"])
        assert fresh == {"y"}
    else:
        assert await waiting == {"x", "y"}
    assert await harness.scalar("SELECT count(*) FROM \"{s}\".inbox WHERE event_id = 'x'") == 1


async def test_a_consumer_name_holding_the_key_separator_is_refused(harness: Harness) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from dunlin_platform.inbox import KEY_SEPARATOR, claim_all, claim_new

    inbox = harness.tables.inbox
    async with async_sessionmaker(harness.engine)() as session, session.begin():
        for claim in (claim_all, claim_new):
            with pytest.raises(ValueError, match="U\\+001F"):
                await claim(session, table=inbox, consumer=f"a{KEY_SEPARATOR}b", event_ids=["x"])
    assert await harness.scalar('SELECT count(*) FROM "{s}".inbox') == 0


@pytest.mark.parametrize("form", ["as sent", "always text[]"])
async def test_the_claim_takes_the_same_ids_joined_or_as_an_array(
    harness: Harness, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids go as one separator-joined text unless that would not split back into them."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from dunlin_platform import inbox as inbox_module
    from dunlin_platform.inbox import claim_all, claim_new

    if form == "always text[]":
        monkeypatch.setattr(inbox_module, "text_parameter", lambda ids: (False, list(ids)))
    sessions = async_sessionmaker(harness.engine)
    table = harness.tables.inbox
    awkward = [
        ["a\x1fb", "c"],  # the separator inside an id
        [""],  # a lone empty id: string_to_array would read no element at all
        ["", "d"],
        ["\x1e", "é ü", "e,f", "{g}", '"h"', "NULL", "i\\j"],
    ]
    query = text(f'SELECT event_id FROM "{harness.schema}".inbox WHERE consumer = :c')
    for index, ids in enumerate(awkward):
        consumer, new_id = f"{form} {index}", f"new-{ids[0]}"
        async with sessions() as session, session.begin():
            await claim_all(session, table=table, consumer=consumer, event_ids=ids)
        async with sessions() as session, session.begin():
            assert await claim_new(session, table=table, consumer=consumer, event_ids=ids) == set()
            again = [*ids, new_id]
            assert await claim_new(session, table=table, consumer=consumer, event_ids=again) == {
                new_id
            }
        async with harness.engine.connect() as conn:
            stored = [row[0] for row in await conn.execute(query, {"c": consumer})]
        assert sorted(stored) == sorted({*ids, new_id})


async def test_a_graceful_stop_commits_the_offsets_of_every_applied_batch(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    """Offsets are committed after each transaction, off the lane's path; stop waits for them."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = unique_topic("offsets")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=2)
    events = [record_of(account_registered(f"acc-{i % 5}", f"n{i}")) for i in range(240)]
    await produce(kafka_bootstrap_servers, topic, events)
    committed_while_applying: list[bool] = []
    runtime = harness.runtime(topics=[topic], run_relay=False)
    consumer: BatchConsumer = runtime.consumers[0]
    original_commit = consumer._commit

    async def commit_after_the_transaction(kafka: Any, batch: dict[Any, list[Any]]) -> None:
        # The effects of the batch whose offsets these are are visible: it has committed.
        last_ids = [dict(messages[-1].headers)["ce_id"].decode() for messages in batch.values()]
        applied = {event_id for event_id, _, _ in await harness.effects_rows()}
        committed_while_applying.append(bool(last_ids) and set(last_ids) <= applied)
        await original_commit(kafka, batch)

    consumer._commit = commit_after_the_transaction  # type: ignore[method-assign,assignment]
    await run_until(harness, runtime, 240)
    await runtime.stop()

    assert committed_while_applying
    assert all(committed_while_applying)
    group = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=consumer.group_id)
    await group.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(2)]
        committed = [await group.committed(tp) for tp in partitions]
        ends = await group.end_offsets(partitions)
    finally:
        await group.stop()
    assert committed == [ends[tp] for tp in partitions], "stop left offsets uncommitted"
    assert len(await harness.effects_rows()) == 240


async def _inbox_ids(harness: Harness) -> list[str]:
    async with harness.engine.connect() as conn:
        query = text(f'SELECT event_id FROM "{harness.schema}".inbox ORDER BY event_id')
        return [str(row[0]) for row in await conn.execute(query)]


async def test_ids_older_than_the_retention_are_purged_a_few_pages_at_a_time(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dunlin_platform import inbox as inbox_module

    monkeypatch.setattr(inbox_module, "_PURGE_PAGES", 1)  # one transaction per heap page
    ages = [31 + n % 40 for n in range(400)] + [29] * 50 + [0] * 50  # 400 old rows, 100 kept
    async with harness.engine.begin() as conn:
        await conn.execute(
            text(
                f'INSERT INTO "{harness.schema}".inbox (consumer, event_id, processed_at)'
                " VALUES ('c', :e, now() - make_interval(days => :age))"
            ),
            [{"e": f"id-{n:03d}-{age}", "age": age} for n, age in enumerate(ages)],
        )
        pages = await conn.scalar(
            text(f"SELECT pg_relation_size('\"{harness.schema}\".inbox') / 8192")
        )
        plan = "\n".join(
            await conn.scalars(
                text(
                    f"EXPLAIN DELETE FROM \"{harness.schema}\".inbox WHERE ctid >= '(0,0)'"
                    " AND ctid < '(1,0)' AND processed_at < now()"
                )
            )
        )
    assert pages > 2, "the rows must span several pages for the test to mean anything"
    assert "Tid Range Scan" in plan, plan  # each transaction reads its own pages only
    runtime = harness.runtime(inbox_retention_days=30)
    try:
        assert await runtime.purge_inbox() == 400
        remaining = await _inbox_ids(harness)
        assert len(remaining) == 100
        assert all(int(event_id.rsplit("-", 1)[1]) < 30 for event_id in remaining)
        assert await runtime.purge_inbox() == 0
    finally:
        await runtime.engine.dispose()


async def test_a_runtime_with_consumers_purges_the_inbox_when_it_starts(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("purge")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    async with harness.engine.begin() as conn:
        await conn.execute(
            text(
                f'INSERT INTO "{harness.schema}".inbox (consumer, event_id, processed_at)'
                " VALUES ('c', 'old', now() - interval '8 days'), ('c', 'kept', now())"
            )
        )
    runtime = harness.runtime(topics=[topic], run_relay=False, inbox_retention_days=7)
    await runtime.start()
    try:
        await eventually(lambda: _gone(harness), what="the old id purged at start", within=30)
    finally:
        await runtime.stop()
    assert await _inbox_ids(harness) == ["kept"]


async def _gone(harness: Harness) -> bool:
    return "old" not in await _inbox_ids(harness)


async def test_a_rebalance_commits_the_batch_it_waited_for_so_the_new_owner_redoes_nothing(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("handover")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=2)
    total = 200
    await produce(
        kafka_bootstrap_servers,
        topic,
        [record_of(account_registered(f"acc-{n % 10}", f"n{n}")) for n in range(total)],
    )
    first_batch_started = asyncio.Event()

    async def slow_first_batch(session: Any, envelopes: list[Any]) -> None:
        if not first_batch_started.is_set():
            first_batch_started.set()
            await asyncio.sleep(3)  # the second member joins meanwhile: a rebalance waits
        await harness.record_effects(session, envelopes)

    first = harness.runtime(topics=[topic], handler=slow_first_batch, run_relay=False)
    second = harness.runtime(topics=[topic], run_relay=False)
    redone: list[int] = []
    for runtime in (first, second):
        [consumer] = runtime.consumers
        _count_redeliveries(consumer, redone)
    await first.start()
    await asyncio.wait_for(first_batch_started.wait(), 30)
    await second.start()
    await eventually(lambda: _has(harness, total), what="every event applied", within=60)
    await second.stop()
    await first.stop()

    assert await harness.scalar('SELECT count(*) FROM "{s}".effects') == total
    # The batch that was being applied when the partitions were revoked committed its
    # offsets before the hand-over: nobody fetched its events a second time.
    assert redone == [], "events applied before the rebalance were delivered again"


def _count_redeliveries(consumer: BatchConsumer, redone: list[int]) -> None:
    """Record the size of every batch that met ids already in the inbox (a redelivery)."""
    transaction = consumer._transaction

    async def counting(envelopes: list[Any], event_ids: list[str], *, all_new: bool) -> int:
        if not all_new:
            redone.append(len(event_ids))
        return await transaction(envelopes, event_ids, all_new=all_new)

    setattr(consumer, "_transaction", counting)  # noqa: B010 - mypy: method
