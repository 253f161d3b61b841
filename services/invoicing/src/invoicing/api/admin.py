"""Operator endpoints: run the overdue sweep now."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.problems import problem_responses
from invoicing.overdue import OverdueSweeper

router = APIRouter(prefix="/admin", tags=["admin"])


class SweepPublic(BaseModel):
    """What one overdue sweep did."""

    as_of: dt.datetime = Field(description="The clock's time the sweep aged invoices at (UTC)")
    invoices_examined: int = Field(description="Invoices whose aging mark had come")
    notices: int = Field(description="AccountOverdue events written (one per account/currency)")
    batches: int = Field(description="Transactions the sweep took")


@router.post(
    "/overdue-sweep",
    dependencies=[require_scopes("admin")],
    responses=problem_responses(401, 403),
)
async def run_overdue_sweep(request: Request) -> SweepPublic:
    """Run the overdue sweep once with the service clock, as the background loop does."""
    sweeper = request.app.state.overdue_sweeper
    assert isinstance(sweeper, OverdueSweeper)
    result = await sweeper.sweep_once()
    return SweepPublic(
        as_of=result.as_of,
        invoices_examined=result.invoices_examined,
        notices=result.notices,
        batches=result.batches,
    )
