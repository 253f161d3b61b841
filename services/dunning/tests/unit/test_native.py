"""The sweep's hot modules run compiled exactly when `make setup` built them from these sources.

How stale, foreign and disabled builds fall back is tested on a toy workspace in
libs/platform/tests/unit/test_native.py; these tests check the dunning domain's own wiring.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import subprocess
import sys
from importlib.machinery import ExtensionFileLoader
from pathlib import Path

import pytest

import dunning.domain
from dunlin_platform import native
from dunning.domain import NATIVE
from dunning.domain.build import build
from dunning.domain.state import StepRecord

PLAIN = ("balances", "policy", "state", "facts", "assignment", "commands")


def _compiled(name: str) -> bool:
    spec = importlib.import_module(name).__spec__
    assert spec is not None
    return isinstance(spec.loader, ExtensionFileLoader)


def _fresh() -> bool:
    root = native.workspace_root(Path(dunning.domain.__path__[0]).resolve())
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
