"""Background work: the delivery worker and the reconciliation of interrupted sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dunlin_platform.errors import is_transient
from dunlin_platform.runtime import ServiceRuntime
from notifications import metrics
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker

log = logging.getLogger(__name__)


def delivery_loop(
    runtime: ServiceRuntime,
    worker: DeliveryWorker,
    settings: NotificationsSettings,
    *,
    close: Callable[[], Awaitable[None]],
) -> Callable[[], Awaitable[None]]:
    """Reconcile at start and now and then, send due rows; close the adapters at the end."""

    async def lane(number: int) -> None:
        stop = runtime.stop_requested
        reconcile_every = max(settings.sending_lease_s / 4, 1.0)
        last_reconcile = -1e9
        loop_time = asyncio.get_running_loop().time
        while not stop.is_set():
            claimed = 0
            try:
                if number == 0 and loop_time() - last_reconcile >= reconcile_every:
                    await worker.reconcile()
                    last_reconcile = loop_time()
                claimed = await worker.run_once()
            except Exception as exc:
                if is_transient(exc):
                    log.warning("delivery round postponed: %s", type(exc).__name__)
                else:
                    log.exception("delivery round failed")
            if claimed:
                continue
            worker.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.worker_interval_s):
                    await _first(stop, worker.wake)

    async def loop() -> None:
        # Telemetry is installed by now (the app's lifespan): the series start at zero here.
        metrics.start_counting(worker.channels)
        # Several lanes: while one round sends, the next claims (claims take turns).
        try:
            await asyncio.gather(*(lane(n) for n in range(settings.worker_lanes)))
        finally:
            await close()

    return loop


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
