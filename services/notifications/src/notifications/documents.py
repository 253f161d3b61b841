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
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from dunlin_events import NotificationRequested
from notifications.letterhead import Letterhead
from notifications.templates.engine import Rendered

log = logging.getLogger(__name__)


def _warm() -> None:
    """Parse the fonts when a worker starts, not in its first document."""
    # Imported here: with worker processes the service itself never loads the fonts and
    # their subsets, only the workers do.
    from notifications import pdf

    pdf.warm_up()


class DocumentRenderer:
    """Letters and statements as PDF bytes; `close()` stops the worker processes."""

    def __init__(self, head: Letterhead, *, workers: int) -> None:
        self._head = head
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

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
        from notifications import pdf

        return await self._run(
            functools.partial(pdf.render_letter, request, rendered, head=self._head, today=today)
        )

    async def statement(self, request: NotificationRequested, *, today: dt.date) -> bytes:
        """The statement of open invoices attached to e-mails."""
        from notifications import pdf

        return await self._run(
            functools.partial(pdf.render_statement, request, head=self._head, today=today)
        )

    async def _run(self, job: Callable[[], bytes]) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor(), job)
        except BrokenProcessPool:
            # A worker died (OOM killer ...): start a fresh pool next time; this try is retried
            # by the caller like any transient failure.
            log.warning("PDF worker process died; restarting the pool")
            self.close()
            raise
        return result

    def close(self) -> None:
        """Stop the worker processes (running documents finish first)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
