"""Operator endpoints: run the plan sweep now."""

from __future__ import annotations

from fastapi import APIRouter

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.problems import problem_responses
from payments.api.deps import RuntimeDep, SettingsDep
from payments.schemas import SweepResult
from payments.sweep import sweep_once

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/plan-sweep",
    dependencies=[require_scopes("admin")],
    responses=problem_responses(401, 403),
)
async def plan_sweep(runtime: RuntimeDep, settings: SettingsDep) -> SweepResult:
    """Report installments whose date has passed unpaid (the background loop does this too)."""
    missed = await sweep_once(runtime, settings=settings)
    return SweepResult(missed_installments=missed)
