"""An account's case: read it, its timeline and audit; promises, holds, overrides, policy."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import select

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import NotFoundError, problem_responses
from dunning import repository as repo
from dunning.api.deps import AccountId, RuntimeDep, minor, refused
from dunning.api.views import case_public, timeline
from dunning.db import audit, cases
from dunning.domain import commands
from dunning.domain.balances import balances
from dunning.domain.state import AccountState
from dunning.handlers import Change, change_account
from dunning.schemas import (
    AccountPolicy,
    AuditPublic,
    CasePublic,
    HoldCreate,
    HoldLift,
    Override,
    PromiseCreate,
    TimelineEntry,
)

router = APIRouter(prefix="/accounts/{account_id}", tags=["cases"])
READ = [require_scopes("dunning:read")]
WRITE = [require_scopes("dunning:write"), IdempotencyDep]


async def _case(runtime: RuntimeDep, account_id: str) -> CasePublic:
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(
                select(cases.c.state, cases.c.next_action_at).where(
                    cases.c.account_id == account_id
                )
            )
        ).first()
        if row is None:
            raise NotFoundError(f"dunning knows no account {account_id}")
        book = await repo.policy_book(session=session)
    return case_public(AccountState.model_validate_json(row.state), book, row.next_action_at)


async def _change(runtime: RuntimeDep, account_id: str, change: Change) -> CasePublic:
    try:
        async with runtime.sessionmaker() as session, session.begin():
            await change_account(
                session=session,
                outbox=runtime.outbox,
                account_id=account_id,
                change=change,
                now=runtime.clock.now(),
            )
    except commands.CommandRefused as exc:
        raise refused(str(exc)) from exc
    except KeyError as exc:
        raise NotFoundError(f"{exc.args[0]} does not exist") from exc
    return await _case(runtime, account_id)


@router.get("/case", dependencies=READ, responses=problem_responses(401, 403, 404))
async def get_case(account_id: AccountId, runtime: RuntimeDep) -> CasePublic:
    """The account's case: status, steps, invoices with their dunned balance, promises, holds."""
    return await _case(runtime, account_id)


@router.get("/timeline", dependencies=READ, responses=problem_responses(401, 403, 404, 422))
async def get_timeline(
    account_id: AccountId, runtime: RuntimeDep, page: PageParamsDep
) -> Page[TimelineEntry]:
    """Invoices, payments, contacts, promises, disputes and tasks merged in time order."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        state = await repo.get_state(session=session, account_id=account_id)
    if state is None:
        raise NotFoundError(f"dunning knows no account {account_id}")
    start = after[0] if after else 0
    entries = timeline(state)[start : start + page.limit + 1]
    indexed = list(enumerate(entries, start=start))
    result = build_page(indexed, limit=page.limit, sort_key=lambda item: [item[0] + 1])
    return Page[TimelineEntry](items=[e for _, e in result.items], next_cursor=result.next_cursor)


@router.get("/audit", dependencies=READ, responses=problem_responses(401, 403, 422))
async def get_audit(
    account_id: AccountId, runtime: RuntimeDep, page: PageParamsDep
) -> Page[AuditPublic]:
    """The account's immutable audit records, oldest first."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    query = (
        select(audit)
        .where(audit.c.account_id == account_id)
        .order_by(audit.c.id)
        .limit(page.limit + 1)
    )
    if after:
        query = query.where(audit.c.id > after[0])
    async with runtime.sessionmaker() as session:
        rows = [AuditPublic.model_validate(dict(r._mapping)) for r in await session.execute(query)]
    return build_page(rows, limit=page.limit, sort_key=lambda a: [a.id])


@router.post(
    "/promises",
    status_code=status.HTTP_201_CREATED,
    dependencies=WRITE,
    responses=problem_responses(401, 403, 404, 422),
)
async def record_promise(
    account_id: AccountId, body: PromiseCreate, runtime: RuntimeDep
) -> CasePublic:
    """Record a promise to pay; the case holds until its date plus grace (PromiseToPayRecorded)."""

    def change(state: AccountState) -> commands.Outcome:
        cmd = commands.RecordPromise(
            promise_id=str(uuid.uuid4()),
            amount=minor(body.amount, balances(state).currency, field="amount"),
            promised_date=body.promised_date,
            grace_days=body.grace_days,
            invoice_ids=tuple(body.invoice_ids),
            channel=body.channel,
            recorded_by=body.recorded_by,
        )
        return commands.record_promise(state, cmd, runtime.clock.now())

    return await _change(runtime, account_id, change)


@router.post(
    "/holds",
    status_code=status.HTTP_201_CREATED,
    dependencies=WRITE,
    responses=problem_responses(401, 403, 422),
)
async def place_hold(account_id: AccountId, body: HoldCreate, runtime: RuntimeDep) -> CasePublic:
    """Hold the case with a reason, until lifted or until it expires (DunningHoldChanged)."""
    hold_id = str(uuid.uuid4())
    return await _change(
        runtime,
        account_id,
        lambda s: commands.place_hold(
            s,
            hold_id=hold_id,
            reason=body.reason,
            until=body.until,
            actor=body.actor,
            now=runtime.clock.now(),
        ),
    )


@router.post(
    "/holds/{hold_id}/lift", dependencies=WRITE, responses=problem_responses(401, 403, 404, 422)
)
async def lift_hold(
    account_id: AccountId,
    hold_id: Annotated[str, Path(max_length=100)],
    body: HoldLift,
    runtime: RuntimeDep,
) -> CasePublic:
    """Lift a hold early; escalation resumes where it stood."""
    return await _change(
        runtime,
        account_id,
        lambda s: commands.lift_hold(
            s, hold_id=hold_id, reason=body.reason, actor=body.actor, now=runtime.clock.now()
        ),
    )


@router.post("/escalate", dependencies=WRITE, responses=problem_responses(401, 403, 422))
async def escalate(account_id: AccountId, body: Override, runtime: RuntimeDep) -> CasePublic:
    """Manual override: the next step is due now (audited with actor and reason)."""
    return await _change(
        runtime,
        account_id,
        lambda s: commands.escalate_now(
            s, actor=body.actor, reason=body.reason, now=runtime.clock.now()
        ),
    )


@router.post("/policy", dependencies=WRITE, responses=problem_responses(401, 403, 422))
async def assign_policy(
    account_id: AccountId, body: AccountPolicy, runtime: RuntimeDep
) -> CasePublic:
    """Assign a policy to the account directly; an open case finishes on its pinned version."""
    if body.policy_id is not None:
        async with runtime.sessionmaker() as session:
            book = await repo.policy_book(session=session)
        if body.policy_id not in book.latest:
            raise refused(f"no policy {body.policy_id}", field="policy_id")
    return await _change(
        runtime,
        account_id,
        lambda s: commands.assign_policy(
            s,
            policy_id=body.policy_id,
            actor=body.actor,
            reason=body.reason,
            now=runtime.clock.now(),
        ),
    )
