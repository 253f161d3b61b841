"""The sweep's hot modules run compiled exactly when `make setup` built them from these sources.

How stale, foreign and disabled builds fall back is tested on a toy workspace in
libs/platform/tests/unit/test_native.py; these tests check the dunning domain's own wiring.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from importlib.machinery import ExtensionFileLoader
from types import SimpleNamespace
from typing import cast

import pytest

from dunlin_platform import native
from dunlin_platform.runtime import ServiceRuntime
from dunning.config import DunningSettings
from dunning.domain import NATIVE
from dunning.domain.build import build
from dunning.domain.state import StepRecord
from dunning.sweep import add_sweep_loop

PLAIN = ("policy", "state", "facts", "assignment", "commands")


def _compiled(name: str) -> bool:
    spec = importlib.import_module(name).__spec__
    assert spec is not None
    return isinstance(spec.loader, ExtensionFileLoader)


def _fresh() -> bool:
    root = native.group_root(NATIVE)
    assert root is not None
    return not native.disabled() and native.check(root, NATIVE).native


def test_the_hot_modules_are_compiled_exactly_when_their_build_is_fresh() -> None:
    fresh = _fresh()
    assert native.STATUS["dunning.domain"].native is fresh
    assert {name: _compiled(name) for name in NATIVE.qualified} == dict.fromkeys(
        NATIVE.qualified, fresh
    )
    assert not any(_compiled(f"dunning.domain.{name}") for name in PLAIN)


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_strict_mode_reaches_the_build_function_that_runs() -> None:
    assert _compiled("dunning.domain.build") is _fresh()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # tests/conftest.py sets build.STRICT on the module; compiled code reads it from there too.
    with pytest.raises(AssertionError, match="differs when validated"):
        build(StepRecord, index="3", key="k", outcome="skipped", at=at)


def test_dunlin_native_0_runs_the_domain_as_plain_python() -> None:
    probe = "import dunning.domain.case as m; print(m.__file__)"
    env = {**os.environ, "DUNLIN_NATIVE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("dunning/domain/case.py")


@pytest.mark.parametrize("fresh_build", [True, False])
def test_the_sweep_says_at_start_how_its_engine_runs(
    fresh_build: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stale = native.Status(native=False, reason="stale build: engine.py changed", ignored=True)
    compiled = native.Status(native=True, reason="compiled, from /x/.dunlin/native/dunning_domain")
    monkeypatch.setitem(native.STATUS, NATIVE.package, compiled if fresh_build else stale)
    loops: list[Callable[[], Awaitable[None]]] = []
    stop = asyncio.Event()
    stop.set()  # the loop logs, sees the stop and returns
    runtime = SimpleNamespace(stop_requested=stop, add_loop=lambda _name, f: loops.append(f))
    add_sweep_loop(cast("ServiceRuntime", runtime), settings=DunningSettings(environment="test"))
    with caplog.at_level(logging.INFO, logger="dunning.sweep"):
        asyncio.run(_awaited(loops[0]))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "dunning.sweep"]
    if fresh_build:
        assert "domain modules compiled, from /x/.dunlin/native/dunning_domain" in line
    else:
        assert "run as plain Python (stale build: engine.py changed)" in line


async def _awaited(loop: Callable[[], Awaitable[None]]) -> None:
    await loop()
