"""The due sweep: executes due steps in batches, as a runtime loop and on demand."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dunlin_platform.errors import is_transient
from dunlin_platform.runtime import ServiceRuntime
from dunning import repository as repo
from dunning.config import DunningSettings
from dunning.handlers import sweep_batch

log = logging.getLogger(__name__)


async def sweep_once(runtime: ServiceRuntime, *, batch_size: int, workers: int = 1) -> int:
    """Run every case due now, batch by batch; returns how many cases were processed.

    `workers` batches run at once, each in its own transaction: while one waits for the
    database, another computes. SKIP LOCKED gives each a different set of cases, exactly as
    it does for several replicas.
    """
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)

    async def worker() -> int:
        done = 0
        while True:
            async with runtime.sessionmaker() as session, session.begin():
                claimed = await sweep_batch(
                    session=session, outbox=runtime.outbox, book=book, now=now, limit=batch_size
                )
            done += claimed
            if claimed < batch_size:
                return done

    if workers <= 1:
        return await worker()
    return sum(await asyncio.gather(*(worker() for _ in range(workers))))


def add_sweep_loop(runtime: ServiceRuntime, *, settings: DunningSettings) -> None:
    """Register the periodic sweep with the runtime."""

    async def loop() -> None:
        stop = runtime.stop_requested
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.sweep_interval_s)
            if stop.is_set():
                return
            try:
                await sweep_once(
                    runtime,
                    batch_size=settings.sweep_batch_size,
                    workers=settings.sweep_workers,
                )
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("dunning sweep failed")
                else:
                    log.warning("dunning sweep postponed: %s", exc)

    runtime.add_loop("dunning-sweep", loop)
