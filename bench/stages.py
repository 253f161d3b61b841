"""Per-stage wall time inside BatchConsumer, without a profiler's distortion."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from dunlin_platform.consumer import BatchConsumer

# Stage name -> the BatchConsumer method it times; private names, so checked at run time.
# The offset commit runs beside the lane's next batch, so it is not part of 1/rate.
BACKGROUND_STAGE = "offset commit (beside the next batch)"
SYNC_STAGES = {"decode": "_decode"}
ASYNC_STAGES = {"transaction": "_apply", "effect": "_handler", "offset_commit": "_commit"}


class StageClock:
    """Seconds spent per stage; `effect` is the handler, `transaction` includes it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        # Transactions applied (batch applies) since the last reset: with lanes, a lane takes
        # what is queued when it becomes free, so its transactions can be smaller than a poll.
        self.batches = 0
        # Set after each applied batch: the benchmark waits on it instead of polling.
        self.applied = asyncio.Event()

    def timed(self, stage: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return wrapper

    def timed_sync(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return wrapper

    def instrument(self, consumer: BatchConsumer) -> bool:
        """Wrap the consumer's stages in place; False when its internals changed shape."""
        names = [*SYNC_STAGES.values(), *ASYNC_STAGES.values(), "_connect"]
        if not all(hasattr(consumer, name) for name in names):
            return False
        for stage, name in SYNC_STAGES.items():
            setattr(consumer, name, self.timed_sync(stage, getattr(consumer, name)))
        for stage, name in ASYNC_STAGES.items():
            setattr(consumer, name, self.timed(stage, getattr(consumer, name)))
        apply = consumer._apply

        async def apply_and_signal(*args: Any) -> Any:
            try:
                return await apply(*args)
            finally:
                self.batches += 1
                self.applied.set()

        setattr(consumer, "_apply", apply_and_signal)  # noqa: B010 - mypy: method
        connect = consumer._connect

        async def connect_and_time_polls() -> Any:
            kafka = await connect()
            if kafka is not None:
                kafka.getmany = self.timed("poll", kafka.getmany)
            return kafka

        setattr(consumer, "_connect", connect_and_time_polls)  # noqa: B010 - mypy: method
        return True

    async def next_batch(self) -> None:
        """Wait until a batch has been applied since the last call."""
        await self.applied.wait()
        self.applied.clear()

    def reset(self) -> None:
        """Forget what happened so far (the start-up batch is not representative)."""
        self.seconds.clear()
        self.batches = 0


def per_event_us(seconds: dict[str, float], events: int) -> dict[str, float]:
    """Microseconds per event per stage; `inbox + tx` is the transaction minus the effect."""
    if not events:
        return {}
    out = {
        "poll (getmany)": seconds.get("poll", 0.0),
        "decode": seconds.get("decode", 0.0),
        "inbox + tx": seconds.get("transaction", 0.0) - seconds.get("effect", 0.0),
        "effect handler": seconds.get("effect", 0.0),
        BACKGROUND_STAGE: seconds.get("offset_commit", 0.0),
    }
    return {name: 1e6 * value / events for name, value in out.items()}


class _TimedContext:
    """An async context manager whose whole lifetime (enter, body, exit) is timed."""

    def __init__(self, inner: Any, clock: StageClock, stage: str) -> None:
        self._inner, self._clock, self._stage = inner, clock, stage
        self._started = 0.0

    async def __aenter__(self) -> Any:
        self._started = time.perf_counter()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: object) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._clock.seconds[self._stage] += time.perf_counter() - self._started


class TimedEngine:
    """Proxy for the relay's engine: connect() is its SELECT, begin() its UPDATE."""

    def __init__(self, engine: Any, clock: StageClock) -> None:
        self._engine, self._clock = engine, clock

    def connect(self) -> _TimedContext:
        return _TimedContext(self._engine.connect(), self._clock, "select")

    def begin(self) -> _TimedContext:
        return _TimedContext(self._engine.begin(), self._clock, "mark published")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def instrument_relay(relay: Any, producer: Any, clock: StageClock) -> bool:
    """Time the relay's SELECT, per-row send() calls and UPDATE; the rest is encode + acks."""
    if not hasattr(relay, "_engine"):
        return False
    relay._engine = TimedEngine(relay._engine, clock)
    producer.send = clock.timed("producer.send", producer.send)
    return True
