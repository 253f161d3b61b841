"""Coalesce concurrent commands into one transaction, written by one task in arrival order.

Requests on one worker queue their command and await its outcome; a single writer takes
whatever is queued (up to `max_batch`) and writes it in one transaction, so N concurrent
requests cost one transaction's round trips instead of N. One writer also keeps the
commit order equal to the arrival order, which keeps each account's events in order.
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
    """One writer task per process; `submit` from any request of the same event loop."""

    def __init__(self, write: BatchWrite[C, R], *, max_batch: int = 200) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0
        self.commands = 0

    async def submit(self, command: C) -> R:
        """Queue a command and wait for its outcome; its refusal is raised here."""
        if self._writer is None or self._writer.done():
            self._start()
        assert self._queue is not None
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    def _start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._run(self._queue), name="write-batcher")

    async def stop(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._writer is None or self._queue is None:
            return
        await self._queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    async def _run(self, queue: asyncio.Queue[tuple[C, asyncio.Future[R]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write_batch(batch)
            finally:
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
