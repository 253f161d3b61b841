"""An account's risk: current score, reasons, history and payment predictions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, cursor_of
from dunlin_platform.http.problems import NotFoundError, problem_responses
from risk.api.deps import RuntimeDep
from risk.db import AccountRow, PredictionRow, ScoreHistoryRow
from risk.schemas import HistoryPublic, PredictionPublic, ReasonPublic, RiskPublic

router = APIRouter(prefix="/accounts", tags=["accounts"])
AccountId = Annotated[str, Path(min_length=1, max_length=100)]
LATEST_HISTORY = 10


def history_public(row: ScoreHistoryRow) -> HistoryPublic:
    """The API view of a published assessment."""
    return HistoryPublic(
        id=row.id,
        score=row.score,
        tier=row.tier,
        previous_score=row.previous_score,
        model_version=row.model_version,
        as_of=row.as_of,
        assessed_at=row.assessed_at,
        reasons=[ReasonPublic(**r) for r in row.reasons],
    )


@router.get(
    "/{account_id}/risk",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_risk(account_id: AccountId, runtime: RuntimeDep) -> RiskPublic:
    """The account's current score with its reasons, actions and latest published history."""
    async with runtime.sessionmaker() as session:
        row = await session.get(AccountRow, account_id)
        if row is None:
            raise NotFoundError(f"risk knows no account {account_id}")
        history = await session.scalars(
            select(ScoreHistoryRow)
            .where(ScoreHistoryRow.account_id == account_id)
            .order_by(ScoreHistoryRow.id.desc())
            .limit(LATEST_HISTORY)
        )
        return RiskPublic(
            account_id=row.account_id,
            registered=row.registered,
            score=row.score,
            tier=row.tier,
            reasons=[ReasonPublic(**r) for r in row.reasons],
            recommended_actions=row.actions,
            model_version=row.model_version,
            scored_at=row.scored_at,
            recommended_credit_limit_minor=row.recommended_limit_minor,
            history=[history_public(h) for h in history],
        )


@router.get(
    "/{account_id}/risk/history",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_history(
    account_id: AccountId, page: PageParamsDep, runtime: RuntimeDep
) -> Page[HistoryPublic]:
    """Every published assessment of the account, newest first."""
    after = cursor_of(page.after, int)
    query = select(ScoreHistoryRow).where(ScoreHistoryRow.account_id == account_id)
    if after:
        query = query.where(ScoreHistoryRow.id < after[0])
    async with runtime.sessionmaker() as session:
        rows = (
            await session.scalars(query.order_by(ScoreHistoryRow.id.desc()).limit(page.limit + 1))
        ).all()
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r.id])
    return Page[HistoryPublic](
        items=[history_public(r) for r in result.items], next_cursor=result.next_cursor
    )


@router.get(
    "/{account_id}/payment-predictions",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_predictions(
    account_id: AccountId, page: PageParamsDep, runtime: RuntimeDep
) -> Page[PredictionPublic]:
    """Predicted payment dates of the account's invoices, with the actual date once paid."""
    after = cursor_of(page.after, str)
    query = select(PredictionRow).where(PredictionRow.account_id == account_id)
    if after:
        query = query.where(PredictionRow.invoice_id > after[0])
    async with runtime.sessionmaker() as session:
        rows = (
            await session.scalars(query.order_by(PredictionRow.invoice_id).limit(page.limit + 1))
        ).all()
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r.invoice_id])
    return Page[PredictionPublic](
        items=[PredictionPublic.model_validate(r, from_attributes=True) for r in result.items],
        next_cursor=result.next_cursor,
    )
