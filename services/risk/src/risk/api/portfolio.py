"""The portfolio: riskiest accounts, biggest movers, prediction accuracy."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import and_, func, or_, select, text

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, cursor_of
from dunlin_platform.http.problems import problem_responses
from risk.api.deps import RuntimeDep
from risk.db import AccountRow, PredictionRow
from risk.schemas import AccountScore, PredictionAccuracy, Tier

router = APIRouter(tags=["portfolio"])

# Keyset pagination: ordered by (|change| DESC, account_id); the cursor is the last row's key.
_MOVERS = text(
    """
    WITH moved AS (
        SELECT a.account_id, a.score, a.tier, a.reasons -> 0 ->> 'code' AS top_reason,
               a.score - COALESCE(
                   (SELECT h.score FROM risk.score_history h
                     WHERE h.account_id = a.account_id AND h.assessed_at < :since
                     ORDER BY h.id DESC LIMIT 1),
                   (SELECT h.score FROM risk.score_history h
                     WHERE h.account_id = a.account_id ORDER BY h.id LIMIT 1)) AS change
          FROM risk.accounts a
         WHERE a.registered AND a.score IS NOT NULL
           AND EXISTS (SELECT 1 FROM risk.score_history h
                        WHERE h.account_id = a.account_id AND h.assessed_at >= :since)
    )
    SELECT account_id, score, tier, top_reason, change, abs(change) AS moved
      FROM moved
     WHERE CAST(:after_moved AS integer) IS NULL
        OR abs(change) < :after_moved
        OR (abs(change) = :after_moved AND account_id > :after_id)
     ORDER BY abs(change) DESC, account_id
     LIMIT :limit
    """
)


@router.get(
    "/portfolio/riskiest",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 422),
)
async def riskiest(
    page: PageParamsDep, runtime: RuntimeDep, tier: Tier | None = None
) -> Page[AccountScore]:
    """Registered accounts by score, highest first (optionally one tier)."""
    after = cursor_of(page.after, int, str)
    query = select(AccountRow).where(AccountRow.registered, AccountRow.score.is_not(None))
    if tier:
        query = query.where(AccountRow.tier == tier)
    if after:
        score, account_id = after
        query = query.where(
            or_(
                AccountRow.score < score,
                and_(AccountRow.score == score, AccountRow.account_id > account_id),
            )
        )
    query = query.order_by(AccountRow.score.desc(), AccountRow.account_id).limit(page.limit + 1)
    async with runtime.sessionmaker() as session:
        rows = (await session.scalars(query)).all()
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r.score, r.account_id])
    return Page[AccountScore](
        items=[
            AccountScore(
                account_id=r.account_id,
                score=r.score or 0,
                tier=r.tier,
                top_reason=r.reasons[0]["code"] if r.reasons else None,
            )
            for r in result.items
        ],
        next_cursor=result.next_cursor,
    )


@router.get(
    "/portfolio/movers",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 422),
)
async def movers(
    page: PageParamsDep,
    runtime: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=365, description="Window of the change")] = 30,
) -> Page[AccountScore]:
    """Accounts whose published score moved most within the window, by absolute change."""
    after = cursor_of(page.after, int, str)
    since = runtime.clock.now() - dt.timedelta(days=days)
    params = {
        "since": since,
        "after_moved": after[0] if after else None,
        "after_id": after[1] if after else "",
        "limit": page.limit + 1,
    }
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(_MOVERS, params)).all()
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r[5], r[0]])
    items = [
        AccountScore(account_id=r[0], score=r[1], tier=r[2], top_reason=r[3], change=r[4])
        for r in result.items
    ]
    return Page[AccountScore](items=items, next_cursor=result.next_cursor)


@router.get(
    "/payment-predictions/accuracy",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403),
)
async def prediction_accuracy(runtime: RuntimeDep) -> PredictionAccuracy:
    """How far predicted payment dates were from the actual ones, over settled invoices."""
    error = PredictionRow.error_days
    within = func.count().filter(func.abs(error) <= 3)
    query = select(func.count(error), func.avg(func.abs(error)), func.avg(error), within).where(
        PredictionRow.settled_on.is_not(None)
    )
    async with runtime.sessionmaker() as session:
        count, mae, bias, close = (await session.execute(query)).one()
    return PredictionAccuracy(
        settled=count,
        mean_absolute_error_days=float(mae) if mae is not None else None,
        bias_days=float(bias) if bias is not None else None,
        within_3_days=close / count if count else None,
    )
