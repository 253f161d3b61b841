"""Rendering letters and statements off the event loop, on every core.

A PDF is pure Python CPU under the GIL, so threads would only keep the event loop
responsive. With `pdf_workers` > 0 documents are rendered in that many worker processes
(started on first use, forkserver with the PDF module preloaded, so each reads its fonts
once and keeps its font subsets); 0 renders in a thread of the service (tests, small
installs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from dunlin_events import NotificationRequested
from notifications.letterhead import Letterhead
from notifications.templates.engine import Rendered

log = logging.getLogger(__name__)
BATCH = 25
"""Documents per call to a worker process at most."""


def _warm() -> None:
    """Parse the fonts when a worker starts, not in its first document."""
    # Imported here: with worker processes the service itself never loads the fonts and
    # their subsets, only the workers do.
    from notifications import pdf

    pdf.warm_up()


@dataclass(frozen=True)
class Order:
    """One document to render: a letter (with its rendered text) or a statement."""

    request: NotificationRequested
    rendered: Rendered | None
    today: dt.date


def render_batch(head: Letterhead, orders: Sequence[Order]) -> list[bytes | Exception]:
    """The documents (in a worker process): each PDF, or what went wrong with it."""
    from notifications import pdf

    done: list[bytes | Exception] = []
    for order in orders:
        try:
            if order.rendered is None:
                done.append(pdf.render_statement(order.request, head=head, today=order.today))
            else:
                done.append(
                    pdf.render_letter(order.request, order.rendered, head=head, today=order.today)
                )
        except Exception as exc:  # one bad document must not fail the others
            done.append(exc)
    return done


class DocumentRenderer:
    """Letters and statements as PDF bytes; `close()` stops the worker processes.

    Documents asked for in the same turn of the event loop (a worker round asks for all of
    its documents at once) go to the workers in batches: one inter-process call carries up to
    BATCH documents instead of one each (~0.3 ms of CPU per call on each side, as much as
    rendering a statement).
    """

    def __init__(self, head: Letterhead, *, workers: int) -> None:
        self._head = head
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[tuple[Order, asyncio.Future[bytes]]] = []
        self._running: set[asyncio.Task[None]] = set()

    @property
    def workers(self) -> int:
        """Worker processes (0: rendered in a thread)."""
        return self._workers

    def _executor(self) -> Executor | None:
        if self._workers <= 0:
            return None  # the loop's default thread pool
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["notifications.pdf"])
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=context, initializer=_warm
            )
        return self._pool

    async def start(self) -> None:
        """Start the worker processes now rather than with the first document."""
        pool = self._executor()
        if pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, _warm) for _ in range(self._workers)))

    async def letter(
        self, request: NotificationRequested, rendered: Rendered, *, today: dt.date
    ) -> bytes:
        """The formal letter."""
        return await self._render(Order(request, rendered, today))

    async def statement(self, request: NotificationRequested, *, today: dt.date) -> bytes:
        """The statement of open invoices attached to e-mails."""
        return await self._render(Order(request, None, today))

    def _render(self, order: Order) -> asyncio.Future[bytes]:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._dispatch)
        future: asyncio.Future[bytes] = loop.create_future()
        self._waiting.append((order, future))
        return future

    def _dispatch(self) -> None:
        waiting, self._waiting = self._waiting, []
        # Spread over the workers, in batches small enough that the first documents come
        # back (and their e-mails leave) while the others render.
        size = min(BATCH, max(1, -(-len(waiting) // max(self._workers, 1))))
        for at in range(0, len(waiting), size):
            task = asyncio.ensure_future(self._run(waiting[at : at + size]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: Sequence[tuple[Order, asyncio.Future[bytes]]]) -> None:
        loop = asyncio.get_running_loop()
        job = functools.partial(render_batch, self._head, [order for order, _ in batch])
        executor = self._executor()
        try:
            results: Sequence[bytes | BaseException] = await loop.run_in_executor(executor, job)
        except BrokenProcessPool as exc:
            # A worker died (OOM killer ...): start a fresh pool next time; these documents'
            # tries are retried by the caller like any transient failure.
            if isinstance(executor, ProcessPoolExecutor) and executor is self._pool:
                log.warning("PDF worker process died; restarting the pool")
                self._pool = None
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
            results = [exc] * len(batch)
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its sender gave up (cancelled)
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def close(self) -> None:
        """Stop the worker processes (running documents finish first)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
