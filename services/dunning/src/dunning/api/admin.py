"""Operator endpoints: run the due sweep now (tests and demos drive time with it)."""

from __future__ import annotations

from fastapi import APIRouter

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.problems import problem_responses
from dunning.api.deps import RuntimeDep, SettingsDep
from dunning.schemas import SweepResult
from dunning.sweep import sweep_once

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/dunning-sweep", dependencies=[require_scopes("admin")], responses=problem_responses(401, 403)
)
async def dunning_sweep(runtime: RuntimeDep, settings: SettingsDep) -> SweepResult:
    """Execute every step due by the service clock's now (the background loop does this too)."""
    cases = await sweep_once(
        runtime,
        batch_size=settings.sweep_batch_size,
        workers=settings.sweep_workers,
        processes=settings.sweep_processes,
    )
    return SweepResult(cases=cases)
