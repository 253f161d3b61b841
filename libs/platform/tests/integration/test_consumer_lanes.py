"""Partition lanes: batches of different partitions applied concurrently, in order per partition."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event
from dunlin_events.topics import dlq_topic
from dunlin_platform.consumer import BatchConsumer

from .conftest import (
    Harness,
    account_registered,
    create_topics,
    eventually,
    produce,
    record_of,
    unique_topic,
)
from .test_consumer import Crash, run_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACCOUNTS = 12
PARTITIONS = 4
LANES = {"test": 3}


def events_in_order(count: int) -> list[Any]:
    """`count` events over ACCOUNTS accounts; the name is the account's own ordinal."""
    seen: dict[str, int] = defaultdict(int)
    records = []
    for i in range(count):
        account = f"acc-{i % ACCOUNTS}"
        records.append(record_of(account_registered(account, f"{account}#{seen[account]:04d}")))
        seen[account] += 1
    return records


async def assert_once_each_and_in_order(harness: Harness, count: int) -> None:
    """Every event applied exactly once, and each account's events in the order produced."""
    rows = await harness.effects_rows()  # in the order they were applied
    assert len(rows) == count, "every event applied exactly once"
    assert len({event_id for event_id, _, _ in rows}) == count
    by_account: dict[str, list[str]] = defaultdict(list)
    for _, account, name in rows:
        by_account[account].append(name)
    assert len(by_account) == ACCOUNTS
    for account, names in by_account.items():
        assert names == sorted(names), f"{account}'s events applied out of order"


async def test_lanes_apply_batches_concurrently_and_keep_each_partitions_order(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("lanes")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=PARTITIONS)
    await produce(kafka_bootstrap_servers, topic, events_in_order(600))
    in_flight: set[int] = set()
    overlapped = asyncio.Event()

    async def slow_effects(session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        me = id(asyncio.current_task())
        in_flight.add(me)
        if len(in_flight) > 1:
            overlapped.set()
        try:
            # Long enough for another lane's batch to start meanwhile (never asserted on).
            await asyncio.sleep(0.05)
            await harness.record_effects(session, envelopes)
        finally:
            in_flight.discard(me)

    runtime = harness.runtime(
        topics=[topic], handler=slow_effects, run_relay=False, consumer_lanes=LANES
    )
    assert len(runtime.consumers[0].lanes) == 3
    await run_until(harness, runtime, 600)
    await runtime.stop()

    assert overlapped.is_set(), "two lanes had a batch in flight at the same time"
    await assert_once_each_and_in_order(harness, 600)


@pytest.mark.parametrize("crash_point", ["inside the transaction", "after commit, before offsets"])
async def test_a_consumer_with_lanes_killed_mid_batch_loses_nothing_and_doubles_nothing(
    harness: Harness, kafka_bootstrap_servers: str, crash_point: str
) -> None:
    topic = unique_topic("lanes-crash")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=PARTITIONS)
    await produce(kafka_bootstrap_servers, topic, events_in_order(600))
    batches = {"seen": 0}

    async def dies_on_fifth_batch(
        session: AsyncSession, envelopes: Sequence[Envelope[Event]]
    ) -> None:
        await harness.record_effects(session, envelopes)
        batches["seen"] += 1
        if crash_point == "inside the transaction" and batches["seen"] == 5:
            raise Crash

    first = harness.runtime(
        topics=[topic], handler=dies_on_fifth_batch, run_relay=False, consumer_lanes=LANES
    )
    consumer: BatchConsumer = first.consumers[0]
    if crash_point == "after commit, before offsets":
        original_commit = consumer._commit

        async def commit_then_die(*args: Any) -> None:
            if batches["seen"] >= 5:
                raise Crash
            await original_commit(*args)

        consumer._commit = commit_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        await consumer.run()
    await first.stop()
    applied_before_restart = len(await harness.effects_rows())
    assert 0 < applied_before_restart < 600

    second = harness.runtime(topics=[topic], run_relay=False, consumer_lanes=LANES)
    await run_until(harness, second, 600)
    await asyncio.sleep(1)  # give a doubled batch the chance to show up
    await second.stop()

    await assert_once_each_and_in_order(harness, 600)


async def test_lanes_hand_partitions_over_in_a_rebalance_without_loss_or_doubling(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    topic = unique_topic("lanes-rebalance")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic), partitions=PARTITIONS)
    records = events_in_order(900)
    await produce(kafka_bootstrap_servers, topic, records[:300])

    async def slow_effects(session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        await asyncio.sleep(0.02)  # keeps batches in flight while the group rebalances
        await harness.record_effects(session, envelopes)

    def replica() -> Any:
        return harness.runtime(
            topics=[topic], handler=slow_effects, run_relay=False, consumer_lanes=LANES
        )

    first, second = replica(), replica()
    await run_until(harness, first, 1)
    await second.start()  # joins the group: partitions move while batches are in flight
    await produce(kafka_bootstrap_servers, topic, records[300:600])
    joined = second.consumers[0]
    await eventually(lambda: _has_assignment(joined), what="the second replica's share")
    await produce(kafka_bootstrap_servers, topic, records[600:])
    await eventually(lambda: _has_at_least(harness, 900), what="900 effects", within=90)
    await asyncio.sleep(1)  # give a doubled batch the chance to show up
    await first.stop()
    await second.stop()

    assert first.consumers[0].processed_total > 0
    assert second.consumers[0].processed_total > 0, "partitions were handed over"
    await assert_once_each_and_in_order(harness, 900)


async def _has_assignment(consumer: BatchConsumer) -> bool:
    kafka = consumer._consumer
    return kafka is not None and bool(kafka.assignment())


async def _has_at_least(harness: Harness, count: int) -> bool:
    return bool(await harness.scalar('SELECT count(*) FROM "{s}".effects') >= count)
