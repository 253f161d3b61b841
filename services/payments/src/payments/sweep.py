"""The plan sweep: one pass, and the runtime that also runs it in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dunlin_platform.errors import is_transient
from dunlin_platform.runtime import ServiceRuntime
from payments.config import PaymentsSettings
from payments.handlers import plans

log = logging.getLogger(__name__)


async def sweep_once(runtime: ServiceRuntime, *, settings: PaymentsSettings) -> int:
    """Sweep due plans in batches until none is left; returns the installments reported."""
    reported = 0
    while True:
        now = runtime.clock.now()
        async with runtime.sessionmaker() as session, session.begin():
            events = await plans.sweep(
                session=session,
                today=now.date(),
                grace_days=settings.plan_grace_days,
                limit=settings.plan_sweep_batch_size,
                now=now,
            )
            await runtime.outbox.add(session, *events, occurred_at=now)
        reported += len(events)
        if not events:
            return reported


class PaymentsRuntime(ServiceRuntime):
    """The platform runtime plus the background plan sweep."""

    def __init__(self, settings: PaymentsSettings, **kwargs: object) -> None:
        super().__init__(settings, **kwargs)  # type: ignore[arg-type]
        self._payments_settings = settings
        self._sweep_stop = asyncio.Event()
        self._sweep_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the platform's loops, then the sweep."""
        await super().start()
        self._sweep_stop.clear()
        self._sweep_task = asyncio.create_task(self._sweep_loop(), name="plan-sweep")

    async def stop(self) -> None:
        """Stop the sweep between passes, then everything else."""
        self._sweep_stop.set()
        if self._sweep_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep_task
        await super().stop()

    async def _sweep_loop(self) -> None:
        interval = self._payments_settings.plan_sweep_interval_s
        while not self._sweep_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_stop.wait(), interval)
            if self._sweep_stop.is_set():
                return
            try:
                await sweep_once(self, settings=self._payments_settings)
            except Exception as exc:
                # A database blip waits for the next pass; anything else is a bug worth a trace.
                if not is_transient(exc):
                    log.exception("plan sweep failed")
                else:
                    log.warning("plan sweep postponed: %s", exc)
