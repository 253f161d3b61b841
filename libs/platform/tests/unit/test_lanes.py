"""Lanes: a partition's batches stay in order, merged up to a batch, in bounded memory."""

from __future__ import annotations

import asyncio
import weakref
from typing import cast

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from dunlin_events import Envelope, Event
from dunlin_platform.lanes import Lane, Polled, lane_of

TOPIC = "t"


def polled(partition: int, offsets: range) -> Polled:
    tp = TopicPartition(TOPIC, partition)
    messages: list[ConsumerRecord[bytes, bytes]] = [
        ConsumerRecord(TOPIC, partition, o, 0, 0, b"k", b"v", None, 1, 1, ()) for o in offsets
    ]
    # Stand-ins for the envelopes decoded from each message, named after its coordinates.
    envelopes = [cast("Envelope[Event]", f"{partition}:{o}") for o in offsets]
    return Polled({tp: messages}, envelopes, list(messages), [])


def offsets(batch: Polled, partition: int) -> list[int]:
    return [m.offset for m in batch.batch[TopicPartition(TOPIC, partition)]]


def test_a_partition_always_has_the_same_lane_and_the_lanes_are_all_used() -> None:
    lanes = [lane_of(TopicPartition(TOPIC, p), 3) for p in range(6)]
    assert lanes == [lane_of(TopicPartition(TOPIC, p), 3) for p in range(6)]
    assert set(lanes) == {0, 1, 2}


def test_batches_queued_while_the_lane_was_busy_are_merged_in_order_up_to_a_batch() -> None:
    async def scenario() -> list[Polled | None]:
        lane = Lane(batch_size=10, limit=20)
        lane.put(polled(0, range(0, 4)))
        lane.put(polled(1, range(0, 3)))
        lane.put(polled(0, range(4, 8)))  # 11 with the first two: taken on its own
        first, second = await lane.take(), await lane.take()
        lane.close()
        return [first, second, await lane.take()]

    first, second, after_close = asyncio.run(scenario())
    assert first is not None
    assert second is not None
    assert offsets(first, 0) == [0, 1, 2, 3]
    assert offsets(first, 1) == [0, 1, 2]
    assert offsets(second, 0) == [4, 5, 6, 7]
    assert after_close is None


def test_a_lane_has_room_until_it_holds_its_limit_and_drops_its_queue_when_closed() -> None:
    async def scenario() -> tuple[bool, bool, bool, Polled | None]:
        lane = Lane(batch_size=5, limit=10)
        lane.put(polled(0, range(0, 5)))
        room_at_5 = lane.has_room
        lane.put(polled(0, range(5, 10)))
        room_at_10 = lane.has_room and lane.room.is_set()
        await lane.take()
        room_after_take = lane.has_room and lane.room.is_set()
        lane.close()
        lane.put(polled(0, range(10, 15)))  # after close: never applied, redelivered later
        return room_at_5, room_at_10, room_after_take, await lane.take()

    assert asyncio.run(scenario()) == (True, False, True, None)


@pytest.mark.parametrize("revoked", [set(), {TopicPartition(TOPIC, 1)}])
def test_a_merged_batch_without_revoked_partitions_keeps_the_others(
    revoked: set[TopicPartition],
) -> None:
    merged = Polled.merge([polled(0, range(0, 2)), polled(1, range(0, 2)), polled(0, range(2, 4))])
    kept = merged.without(revoked)
    assert offsets(kept, 0) == [0, 1, 2, 3]
    assert (TopicPartition(TOPIC, 1) in kept.batch) == (not revoked)
    assert kept.size == (4 if revoked else 6)
    # Each envelope stays beside the message it was decoded from.
    assert [str(e) for e in kept.envelopes] == [f"{m.partition}:{m.offset}" for m in kept.sources]
    assert len(kept.envelopes) == kept.size


def test_retired_batches_are_kept_bounded_until_released_or_the_lane_waits() -> None:
    """Applied batches are freed off the transactions' path, and never pile up."""

    async def scenario() -> tuple[list[bool], list[bool], list[bool]]:
        lane = Lane(batch_size=5, limit=10)
        applied = [polled(0, range(i * 5, i * 5 + 5)) for i in range(3)]
        refs = [weakref.ref(batch) for batch in applied]
        for batch in applied:
            lane.retire(batch)
        del applied, batch
        bounded = [ref() is not None for ref in refs]  # the oldest beyond the bound is gone
        lane.release()
        released = [ref() is not None for ref in refs]
        lane.retire(polled(0, range(15, 20)))
        spent = weakref.ref(lane._spent[0])
        waiting = asyncio.ensure_future(lane.take())  # an idle lane frees what it kept
        await asyncio.sleep(0)
        freed_while_waiting = [spent() is not None]
        lane.close()
        assert await waiting is None
        return bounded, released, freed_while_waiting

    bounded, released, freed_while_waiting = asyncio.run(scenario())
    assert bounded == [False, True, True]
    assert released == [False, False, False]
    assert freed_while_waiting == [False]
