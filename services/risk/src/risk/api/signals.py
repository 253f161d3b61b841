"""External signals and credit-terms requests over HTTP: the same path as risk.signals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from dunlin_events import ExternalSignalReported
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, cursor_of
from dunlin_platform.http.problems import FieldError, UnprocessableError, problem_responses
from risk.api.deps import RuntimeDep
from risk.db import AccountRow, SignalRow
from risk.handlers import observed_in_the_future, process
from risk.schemas import SignalAccepted, SignalCreate, SignalPublic

router = APIRouter(prefix="/signals", tags=["signals"])


def _not_in_the_future(observed_on: dt.date, now: dt.datetime) -> None:
    if observed_in_the_future(observed_on, now):
        detail = f"observed_on {observed_on} is in the future"
        error = FieldError(field="observed_on", location="body", message=detail, type="value_error")
        raise UnprocessableError(detail, errors=[error])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[require_scopes("risk:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 422),
)
async def report_signal(
    body: SignalCreate, runtime: RuntimeDep, response: Response
) -> SignalAccepted:
    """Apply a signal now, or hold it until its ERP account is registered."""
    now = runtime.clock.now()
    _not_in_the_future(body.observed_on, now)
    event = ExternalSignalReported.model_validate(body.model_dump())
    async with runtime.sessionmaker() as session, session.begin():
        known = await session.get(SignalRow, body.signal_id)
        outcome = await process(
            session=session, events=[event], scorer=runtime.registry.current, now=now
        )
        if outcome.events:
            await runtime.outbox.add(session, *outcome.events, occurred_at=now)
        stored = await session.get(SignalRow, body.signal_id, populate_existing=True)
        account_id = stored.account_id if stored else None
        account = await session.get(AccountRow, account_id) if account_id else None
    state = "duplicate" if known is not None else "applied" if account_id else "held"
    response.headers["Location"] = f"/signals/{body.signal_id}"
    return SignalAccepted(
        signal_id=body.signal_id,
        status=state,
        account_id=account_id,
        score=account.score if account else None,
        tier=account.tier if account else None,
    )


@router.get(
    "",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_signals(
    page: PageParamsDep,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    waiting: Annotated[bool, Query(description="Only signals held for unknown accounts")] = False,
) -> Page[SignalPublic]:
    """Stored signals by id, optionally of one account or only those still held."""
    after = cursor_of(page.after, str)
    query = select(SignalRow)
    if account_id is not None:
        query = query.where(SignalRow.account_id == account_id)
    if waiting:
        query = query.where(SignalRow.account_id.is_(None))
    if after:
        query = query.where(SignalRow.signal_id > after[0])
    async with runtime.sessionmaker() as session:
        rows = (
            await session.scalars(query.order_by(SignalRow.signal_id).limit(page.limit + 1))
        ).all()
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r.signal_id])
    return Page[SignalPublic](
        items=[SignalPublic.model_validate(r, from_attributes=True) for r in result.items],
        next_cursor=result.next_cursor,
    )
