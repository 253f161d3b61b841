"""Coalesce concurrent commands into few transactions, at most `writers` of them in flight.

Requests on one worker queue their command and await its outcome; as soon as a writer is
free it takes whatever is queued (up to `max_batch`, in arrival order) and writes it in one
transaction, so N concurrent requests cost one transaction's round trips instead of N.
More than one writer keeps the process busy while a batch waits for its commit (its fsync),
and the database merges the commits of concurrent batches into one flush.

Batches in flight together hold requests that were in flight together: nothing orders
them, so either may commit first. A request sent after another one's answer is queued
after that one committed, so what a client orders stays ordered, in the database and in
the outbox (whose relay reads committed rows by sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from invoicing.domain import DomainError

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")

# Writes a batch in one transaction: one outcome per command, a refusal for those refused.
BatchWrite = Callable[[Sequence[C]], Awaitable[Sequence[R | DomainError]]]


class WriteBatcher(Generic[C, R]):
    """One dispatcher per process; `submit` from any request of the same event loop."""

    def __init__(self, write: BatchWrite[C, R], *, max_batch: int = 200, writers: int = 1) -> None:
        self._write = write
        self._max_batch = max_batch
        self._writers = writers
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]]] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.commands = 0

    async def submit(self, command: C) -> R:
        """Queue a command and wait for its outcome; its refusal is raised here."""
        if self._dispatcher is None or self._dispatcher.done():
            self._start()
        assert self._queue is not None
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    def _start(self) -> None:
        self._queue = asyncio.Queue()
        self._dispatcher = asyncio.create_task(self._run(self._queue), name="write-batcher")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._dispatcher is None or self._queue is None:
            return
        await self._queue.join()
        self._dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        self._dispatcher = None
        # How well requests coalesced (commands per transaction), for whoever tunes writers.
        log.info("wrote %d commands in %d batches", self.commands, self.batches)

    async def _run(self, queue: asyncio.Queue[tuple[C, asyncio.Future[R]]]) -> None:
        slots = asyncio.Semaphore(self._writers)
        while True:
            first = await queue.get()
            # Waiting for a free writer is what fills the batch: whatever queued meanwhile
            # goes with it.
            await slots.acquire()
            batch = [first]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            task = asyncio.create_task(self._write_and_release(batch, queue, slots))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _write_and_release(
        self,
        batch: list[tuple[C, asyncio.Future[R]]],
        queue: asyncio.Queue[tuple[C, asyncio.Future[R]]],
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            await self._write_batch(batch)
        finally:
            slots.release()
            for _ in batch:
                queue.task_done()

    async def _write_batch(self, batch: list[tuple[C, asyncio.Future[R]]]) -> None:
        self.batches += 1
        self.commands += len(batch)
        try:
            outcomes = await self._write([command for command, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            # Something failed the whole transaction: each command alone, so only its own
            # request sees the failure.
            log.warning("batch of %d failed (%r); writing its commands one by one", len(batch), exc)
            for item in batch:
                await self._write_batch([item])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # the request went away; its write stands, like any committed one
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
