"""Shared API plumbing: the runtime and cursors."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from risk.runtime import RiskRuntime


def _runtime(request: Request) -> RiskRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, RiskRuntime)
    return runtime


RuntimeDep = Annotated[RiskRuntime, Depends(_runtime)]
