"""Payment plans: agree, list, read, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import select

from dunlin_events import from_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import NotFoundError, problem_responses
from payments import messages
from payments.api.deps import RuntimeDep, minor
from payments.db import InvoiceRow, PlanRow
from payments.domain import plans as rules
from payments.handlers.plans import AgreePlan, CancelPlan, agree, cancel
from payments.repository import ledger as ledger_repo
from payments.repository import plans as repo
from payments.schemas import InstallmentPublic, PlanCancel, PlanCreate, PlanPublic, PlanStatus

router = APIRouter(prefix="/payment-plans", tags=["payment plans"])
PlanId = Annotated[str, Path(min_length=1, max_length=100)]


def plan_public(
    plan: PlanRow,
    invoice_ids: list[str],
    schedule: list[rules.ScheduledInstallment],
    missed: set[int],
) -> PlanPublic:
    """The API view of a plan with each installment's status."""
    currency = plan.currency
    return PlanPublic(
        id=plan.id,
        account_id=plan.account_id,
        currency=currency,
        invoice_ids=invoice_ids,
        total=from_minor(plan.total_minor, currency),
        paid_amount=from_minor(plan.paid_minor, currency),
        status=plan.status,
        installments=[
            InstallmentPublic(
                number=v.installment.number,
                due_date=v.installment.due_date,
                amount=from_minor(v.installment.amount_minor, currency),
                paid_amount=from_minor(v.paid_minor, currency),
                status=v.status,
            )
            for v in rules.views(schedule, paid_minor=plan.paid_minor, missed=missed)
        ],
        agreed_at=plan.agreed_at,
        agreed_by=plan.agreed_by,
        completed_on=plan.completed_on,
        cancelled_at=plan.cancelled_at,
        cancelled_by=plan.cancelled_by,
        cancellation_reason=plan.cancellation_reason,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_scopes("payments:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 422),
)
async def agree_plan(body: PlanCreate, runtime: RuntimeDep, response: Response) -> PlanPublic:
    """Agree a payment plan and publish PaymentPlanAgreed."""
    invoice_ids = list(dict.fromkeys(body.invoice_ids))
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        accounts = await ledger_repo.lock_accounts(session=session, account_ids=[body.account_id])
        account = accounts.get(body.account_id)
        currency = account.currency if account else (body.currency or "EUR")
        command = AgreePlan(
            account_id=body.account_id,
            currency=body.currency,
            invoice_ids=tuple(invoice_ids),
            installments=tuple(
                (x.due_date, minor(x.amount, currency, field=f"installments[{i}].amount"))
                for i, x in enumerate(body.installments)
            ),
            total_minor=minor(body.total, currency, field="total")
            if body.total is not None
            else None,
            agreed_by=body.agreed_by,
        )
        invoices = await session.scalars(select(InvoiceRow).where(InvoiceRow.id.in_(invoice_ids)))
        plan, events = await agree(
            session=session,
            account=account,
            invoices={row.id: row for row in invoices},
            command=command,
            now=now,
        )
        await runtime.outbox.add(session, *events, occurred_at=now)
        details = await repo.plan_details(session=session, plan_id=plan.id)
    response.headers["Location"] = f"/payment-plans/{plan.id}"
    return plan_public(plan, *details)


@router.get(
    "/{plan_id}",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_plan(plan_id: PlanId, runtime: RuntimeDep) -> PlanPublic:
    """One plan with its installments and how much of each is paid."""
    async with runtime.sessionmaker() as session:
        plan = await repo.get_plan(session=session, plan_id=plan_id)
        if plan is None:
            raise NotFoundError(f"payment plan {plan_id} does not exist")
        details = await repo.plan_details(session=session, plan_id=plan_id)
    return plan_public(plan, *details)


@router.get(
    "",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_plans(
    page: PageParamsDep,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    status: PlanStatus | None = None,
) -> Page[PlanPublic]:
    """Plans in the order they were agreed, optionally of one account and one status."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        rows = await repo.list_plans(
            session=session,
            account_id=account_id,
            status=status,
            after_seq=after[0] if after else None,
            limit=page.limit + 1,
        )
        result = build_page(rows, limit=page.limit, sort_key=lambda p: [p.seq])
        details = await repo.plans_details(session=session, plan_ids=[p.id for p in result.items])
    return Page[PlanPublic](
        items=[plan_public(p, *details[p.id]) for p in result.items],
        next_cursor=result.next_cursor,
    )


@router.post(
    "/{plan_id}/cancel",
    dependencies=[require_scopes("payments:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def cancel_plan(plan_id: PlanId, body: PlanCancel, runtime: RuntimeDep) -> PlanPublic:
    """End an active plan early: its invoices are free for a new plan (PaymentPlanCancelled)."""
    command = CancelPlan(plan_id=plan_id, reason=body.reason, cancelled_by=body.cancelled_by)
    async with runtime.sessionmaker() as session, session.begin():
        plan = await cancel(session=session, command=command, now=runtime.clock.now())
        if plan is None:
            raise NotFoundError(f"payment plan {plan_id} does not exist")
        await runtime.outbox.add(session, messages.plan_cancelled(plan))
        details = await repo.plan_details(session=session, plan_id=plan_id)
    return plan_public(plan, *details)
