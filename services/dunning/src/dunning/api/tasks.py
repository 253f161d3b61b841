"""The collector worklist: open call tasks by priority, and their outcomes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select, update

from dunlin_events import CollectorTaskCompleted, CollectorTaskCreated, from_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import ConflictError, NotFoundError, problem_responses
from dunning import repository as repo
from dunning.api.deps import RuntimeDep, minor, refused
from dunning.db import tasks
from dunning.domain import commands
from dunning.domain.assignment import PolicyBook
from dunning.domain.balances import balances
from dunning.domain.case import AuditEntry
from dunning.domain.contact import send_window
from dunning.domain.ids import stable_id
from dunning.domain.state import AccountState
from dunning.handlers import change_account
from dunning.schemas import TaskComplete, TaskPublic

router = APIRouter(prefix="/tasks", tags=["worklist"])
HOLD_FOR_DISPUTE = dt.timedelta(days=14)
# An unanswered call is tried again the next business day, up to this many calls per step.
MAX_CALL_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(days=1)


def _public(row: Any) -> TaskPublic:
    m = dict(row._mapping)
    m["dunned_balance"] = from_minor(m.pop("dunned_balance_minor"), m["currency"])
    return TaskPublic.model_validate(m)


@router.get(
    "", dependencies=[require_scopes("dunning:read")], responses=problem_responses(401, 403, 422)
)
async def worklist(
    runtime: RuntimeDep,
    page: PageParamsDep,
    status: Annotated[str, Query(pattern="^(open|done|cancelled)$")] = "open",
    account_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[TaskPublic]:
    """Tasks, highest priority (amount x risk x age) first."""
    after = page.after
    if after is not None and (len(after) != 2 or not isinstance(after[1], str)):
        raise invalid_cursor()
    query = select(tasks).where(tasks.c.status == status)
    if account_id:
        query = query.where(tasks.c.account_id == account_id)
    if after:
        p, tid = float(after[0]), after[1]
        query = query.where(
            (tasks.c.priority < p) | ((tasks.c.priority == p) & (tasks.c.task_id > tid))
        )
    query = query.order_by(tasks.c.priority.desc(), tasks.c.task_id).limit(page.limit + 1)
    async with runtime.sessionmaker() as session:
        rows = [_public(r) for r in await session.execute(query)]
    return build_page(rows, limit=page.limit, sort_key=lambda t: [t.priority, t.task_id])


@router.post(
    "/{task_id}/complete",
    dependencies=[require_scopes("dunning:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def complete(
    task_id: Annotated[str, Path(max_length=100)], body: TaskComplete, runtime: RuntimeDep
) -> TaskPublic:
    """Record a call's outcome; promises, disputes and call-backs feed back into the case."""
    if body.outcome == "promise_to_pay" and body.promise is None:
        raise refused("promise_to_pay needs the promise", field="promise")
    if body.outcome == "call_back" and body.call_back_at is None:
        raise refused("call_back needs call_back_at", field="call_back_at")
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        row = (
            await session.execute(select(tasks).where(tasks.c.task_id == task_id).with_for_update())
        ).first()
        if row is None:
            raise NotFoundError(f"task {task_id} does not exist")
        if row.status != "open":
            raise ConflictError(f"task {task_id} is {row.status}", slug="task-not-open")
        attempts = await session.scalar(
            select(func.count()).where(
                tasks.c.case_id == row.case_id, tasks.c.step_key == row.step_key
            )
        )
        retry: CollectorTaskCreated | None = None
        book = await repo.policy_book(session=session)

        def change(state: AccountState) -> commands.Outcome:
            nonlocal retry
            events, audit = commands.task_outcome(
                state,
                task_id=task_id,
                step_key=row.step_key,
                outcome=body.outcome,
                note=body.note,
                actor=body.completed_by,
                now=now,
            )
            if body.promise is not None and body.outcome == "promise_to_pay":
                p = body.promise
                cmd = commands.RecordPromise(
                    promise_id=str(uuid.uuid4()),
                    amount=minor(p.amount, balances(state).currency, field="promise.amount"),
                    promised_date=p.promised_date,
                    grace_days=p.grace_days,
                    invoice_ids=tuple(p.invoice_ids),
                    channel="phone",
                    recorded_by=p.recorded_by,
                )
                more = commands.record_promise(state, cmd, now)
                events, audit = events + more[0], audit + more[1]
            if body.outcome == "no_answer" and (attempts or 0) < MAX_CALL_ATTEMPTS:
                retry = _retry(row, attempt=(attempts or 0) + 1, state=state, book=book, now=now)
                events.append(retry)
                audit.append(
                    AuditEntry(
                        "call_retry_scheduled",
                        body.completed_by,
                        f"no answer; call {(attempts or 0) + 1} of {MAX_CALL_ATTEMPTS}",
                        now,
                        row.case_id,
                        row.step_key,
                        {"task_id": retry.task_id, "due_at": retry.due_at.isoformat()},
                    )
                )
            if body.outcome == "dispute_raised":
                more = commands.place_hold(
                    state,
                    hold_id=str(uuid.uuid4()),
                    actor=body.completed_by,
                    reason="dispute raised on a call; awaiting invoicing",
                    until=now + HOLD_FOR_DISPUTE,
                    now=now,
                )
                events, audit = events + more[0], audit + more[1]
            events.append(
                CollectorTaskCompleted(
                    account_id=row.account_id,
                    task_id=task_id,
                    case_id=row.case_id,
                    outcome=body.outcome,
                    note=body.note,
                    call_back_at=body.call_back_at,
                    completed_by=body.completed_by,
                    completed_at=now,
                )
            )
            return events, audit

        try:
            await change_account(
                session=session,
                outbox=runtime.outbox,
                account_id=row.account_id,
                change=change,
                now=now,
            )
        except commands.CommandRefused as exc:
            raise refused(str(exc)) from exc
        await session.execute(
            update(tasks)
            .where(tasks.c.task_id == task_id)
            .values(
                status="done",
                outcome=body.outcome,
                note=body.note,
                completed_by=body.completed_by,
                completed_at=now,
                call_back_at=body.call_back_at,
            )
        )
        if retry is not None:
            await repo.add_tasks(session=session, created=[retry], now=now)
        if body.outcome == "call_back" and body.call_back_at is not None:
            fields = {k: v for k, v in row._mapping.items() if k in tasks.c}
            fields |= {
                "task_id": str(uuid.uuid4()),
                "due_at": body.call_back_at,
                "created_at": now,
                "status": "open",
            }
            await session.execute(tasks.insert().values(**fields))
        done = (await session.execute(select(tasks).where(tasks.c.task_id == task_id))).one()
    return _public(done)


def _retry(
    row: Any, *, attempt: int, state: AccountState, book: PolicyBook, now: dt.datetime
) -> CollectorTaskCreated:
    """The same call again on the next business window, with the same priority and invoices."""
    rules = book.for_account(state).body.contact_rules
    return CollectorTaskCreated(
        account_id=row.account_id,
        task_id=stable_id("task", row.case_id, row.step_key, "attempt", attempt),
        case_id=row.case_id,
        step_key=row.step_key,
        contact_id=row.contact_id,
        priority=row.priority,
        currency=row.currency,
        dunned_balance=from_minor(row.dunned_balance_minor, row.currency),
        invoice_ids=list(row.invoice_ids),
        due_at=send_window(now + RETRY_AFTER, time_zone=state.account.time_zone, rules=rules),
        assignee=None,
    )
