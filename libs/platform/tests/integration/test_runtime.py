"""Background loops registered on the runtime start with it and stop with it."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Harness, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_added_loop_runs_until_the_runtime_stops(harness: Harness) -> None:
    runtime = harness.runtime(run_relay=False)
    rounds: list[int] = []
    finished = asyncio.Event()

    async def sweep() -> None:
        while not runtime.stop_requested.is_set():
            rounds.append(len(rounds))
            await asyncio.sleep(0.01)
        finished.set()

    runtime.add_loop("sweep", sweep)
    await runtime.start()

    async def ran() -> bool:
        return len(rounds) >= 3

    await eventually(ran, what="the loop to run")
    await runtime.stop()
    assert finished.is_set(), "the loop saw the stop and returned on its own"
    with pytest.raises(RuntimeError, match="before the runtime starts"):
        runtime.add_loop("late", sweep)
