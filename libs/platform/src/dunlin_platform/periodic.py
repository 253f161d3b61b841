"""Background work repeated on an interval until the service stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dunlin_platform.errors import is_transient

if TYPE_CHECKING:
    from dunlin_platform.runtime import ServiceRuntime

log = logging.getLogger(__name__)


def every(
    runtime: ServiceRuntime,
    name: str,
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    *,
    at_start: bool = False,
) -> Callable[[], Awaitable[None]]:
    """A loop for runtime.add_loop: work every interval (and at start) until the runtime stops."""

    async def loop() -> None:
        stop = runtime.stop_requested
        wait = not at_start
        while not stop.is_set():
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)
                if stop.is_set():
                    return
            wait = True
            try:
                await work()
            except Exception as exc:
                # A database blip waits for the next pass; anything else is a bug worth a trace.
                if not is_transient(exc):
                    log.exception("%s failed", name)
                else:
                    log.warning("%s postponed: %s", name, exc)

    return loop
