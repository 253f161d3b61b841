"""The write batcher: arrival order, writers in flight, and every command its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from invoicing.batching import WriteBatcher
from invoicing.domain import DomainError


class Refused(DomainError):
    pass


async def test_queued_commands_are_written_together_in_arrival_order() -> None:
    written: list[list[int]] = []

    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        written.append(list(batch))
        await asyncio.sleep(0.01)
        return [n * 10 for n in batch]

    batcher: WriteBatcher[int, int] = WriteBatcher(write)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(20)))
    await batcher.stop()

    assert results == [n * 10 for n in range(20)]
    assert [n for batch in written for n in batch] == list(range(20))
    assert len(written) < 20


async def test_a_refusal_reaches_only_its_own_request() -> None:
    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        return [Refused(f"{n} is odd") if n % 2 else n for n in batch]

    batcher: WriteBatcher[int, int] = WriteBatcher(write)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(6)), return_exceptions=True)
    await batcher.stop()

    assert [o if isinstance(o, int) else type(o) for o in outcomes] == [
        0,
        Refused,
        2,
        Refused,
        4,
        Refused,
    ]


async def test_a_failed_batch_is_retried_one_by_one_so_only_the_culprit_fails() -> None:
    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        if 3 in batch:
            raise RuntimeError("constraint violated by 3")
        return list(batch)

    batcher: WriteBatcher[int, int] = WriteBatcher(write)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(6)), return_exceptions=True)
    await batcher.stop()

    assert outcomes[:3] == [0, 1, 2]
    assert outcomes[4:] == [4, 5]
    assert isinstance(outcomes[3], RuntimeError)


async def test_batches_are_capped() -> None:
    sizes: list[int] = []

    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        sizes.append(len(batch))
        await asyncio.sleep(0.005)
        return list(batch)

    batcher: WriteBatcher[int, int] = WriteBatcher(write, max_batch=4)
    await asyncio.gather(*(batcher.submit(n) for n in range(17)))
    await batcher.stop()

    assert max(sizes) == 4
    assert sum(sizes) == 17


async def test_stop_writes_what_is_queued() -> None:
    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        await asyncio.sleep(0.005)
        return list(batch)

    batcher: WriteBatcher[int, int] = WriteBatcher(write)
    pending = [asyncio.ensure_future(batcher.submit(n)) for n in range(5)]
    await asyncio.sleep(0)
    await batcher.stop()

    assert [p.result() for p in pending] == list(range(5))


async def test_a_lone_failure_is_raised_to_its_request() -> None:
    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        raise ConnectionError("database down")

    batcher: WriteBatcher[int, int] = WriteBatcher(write)
    with pytest.raises(ConnectionError):
        await batcher.submit(1)
    await batcher.stop()


async def test_a_second_writer_takes_what_queued_while_the_first_waits_for_its_commit() -> None:
    first_may_commit = asyncio.Event()
    first_is_writing = asyncio.Event()
    written: list[list[int]] = []

    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        written.append(list(batch))
        if batch[0] == 0:
            first_is_writing.set()
            await first_may_commit.wait()
        return list(batch)

    batcher: WriteBatcher[int, int] = WriteBatcher(write, writers=2)
    first = asyncio.ensure_future(batcher.submit(0))
    await first_is_writing.wait()
    later = await asyncio.gather(*(batcher.submit(n) for n in range(1, 5)))

    assert later == [1, 2, 3, 4]
    assert not first.done()
    first_may_commit.set()
    assert await first == 0
    await batcher.stop()
    assert written[0] == [0]
    assert [n for batch in written[1:] for n in batch] == [1, 2, 3, 4]


async def test_one_writer_never_has_two_batches_in_flight() -> None:
    in_flight = 0
    most = 0

    async def write(batch: Sequence[int]) -> list[int | DomainError]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return list(batch)

    batcher: WriteBatcher[int, int] = WriteBatcher(write, writers=1, max_batch=2)
    await asyncio.gather(*(batcher.submit(n) for n in range(9)))
    await batcher.stop()

    assert most == 1
