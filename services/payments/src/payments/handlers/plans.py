"""Payment plans: agree, count payments towards installments, reopen, sweep for misses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from payments import messages
from payments.db import AccountRow, InvoiceRow, PlanRow
from payments.domain import plans as rules
from payments.domain.errors import CurrencyMismatch, InvalidPlan, PlanNotActive, UnknownAccount
from payments.handlers import new_id
from payments.repository import ledger as ledger_repo
from payments.repository import plans as repo


@dataclass(frozen=True, slots=True)
class AgreePlan:
    """Agree a payment plan over some of the account's open invoices."""

    account_id: str
    currency: str | None
    invoice_ids: tuple[str, ...]
    installments: tuple[tuple[dt.date, int], ...]
    total_minor: int | None = None
    agreed_by: str | None = None


async def agree(
    *,
    session: AsyncSession,
    account: AccountRow | None,
    invoices: dict[str, InvoiceRow],
    command: AgreePlan,
    now: dt.datetime,
) -> tuple[PlanRow, list[Event]]:
    """Validate and store a plan; stage PaymentPlanAgreed."""
    if account is None:
        raise UnknownAccount(f"account {command.account_id} is not known", field="account_id")
    if command.currency is not None and command.currency != account.currency:
        raise CurrencyMismatch(
            f"the plan is in {command.currency}, the account in {account.currency}",
            field="currency",
        )
    for i, invoice_id in enumerate(command.invoice_ids):
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.account_id != account.id:
            raise InvalidPlan(
                f"invoice {invoice_id} is not an invoice of this account",
                field=f"invoice_ids[{i}]",
            )
        if invoice.closed or invoice.total_minor <= invoice.allocated_minor:
            raise InvalidPlan(f"invoice {invoice_id} has nothing open", field=f"invoice_ids[{i}]")
    taken = await repo.active_plans_of_invoices(session=session, invoice_ids=command.invoice_ids)
    if taken:
        invoice_id, plan_id = next(iter(taken.items()))
        raise InvalidPlan(
            f"invoice {invoice_id} is already in active plan {plan_id}", field="invoice_ids"
        )
    open_minor = sum(
        invoices[i].total_minor - invoices[i].allocated_minor for i in command.invoice_ids
    )
    total = command.total_minor if command.total_minor is not None else open_minor
    if total <= 0 or total > open_minor:
        raise InvalidPlan(
            f"the plan total must be > 0 and at most the invoices' open balance ({open_minor})",
            field="total",
        )
    # The customer's calendar, as the sweep reads it: due today there is not yet missed.
    agreed_on = _local_date(now, account.time_zone)
    schedule = rules.schedule(
        command.installments, expected_total_minor=total, not_before=agreed_on
    )
    plan = PlanRow(
        id=new_id(),
        account_id=account.id,
        currency=account.currency,
        total_minor=total,
        paid_minor=0,
        status="active",
        next_due_date=rules.next_check(schedule, paid_minor=0, missed=()),
        agreed_by=command.agreed_by,
        agreed_at=now,
    )
    await repo.add_plan(
        session=session, plan=plan, invoice_ids=command.invoice_ids, installments=schedule
    )
    return plan, [messages.plan_agreed(plan, command.invoice_ids, schedule)]


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """End an active plan early (renegotiated, defaulted, agreed in error)."""

    plan_id: str
    reason: str
    cancelled_by: str | None = None


async def cancel(*, session: AsyncSession, command: CancelPlan, now: dt.datetime) -> PlanRow | None:
    """Cancel an active plan: no more sweeps, its invoices free for a new plan; None if absent."""
    found = await repo.get_plan(session=session, plan_id=command.plan_id)
    if found is None:
        return None
    # The account first, as payments take it: one counted towards the plan waits for the
    # cancellation (or it for the payment), so a cancelled plan is never completed.
    await ledger_repo.lock_accounts(session=session, account_ids=[found.account_id])
    plan = await repo.get_plan(session=session, plan_id=command.plan_id, for_update=True)
    assert plan is not None
    if plan.status != "active":
        raise PlanNotActive(f"payment plan {plan.id} is {plan.status}; only an active plan can end")
    plan.status, plan.next_due_date = "cancelled", None
    plan.cancelled_at, plan.cancelled_by = now, command.cancelled_by
    plan.cancellation_reason = command.reason
    return plan


async def count_payment(
    *,
    session: AsyncSession,
    payment_id: str,
    received_on: dt.date,
    allocations: Sequence[tuple[str, int]],
) -> list[Event]:
    """Count allocations to plan invoices towards their plans' installments, in order."""
    by_plan = await repo.active_plans_of_invoices(
        session=session, invoice_ids=[invoice_id for invoice_id, _ in allocations]
    )
    amounts: dict[str, int] = {}
    for invoice_id, amount in allocations:
        if invoice_id in by_plan:
            amounts[by_plan[invoice_id]] = amounts.get(by_plan[invoice_id], 0) + amount
    events: list[Event] = []
    for plan_id, amount in amounts.items():
        plan = await repo.get_plan(session=session, plan_id=plan_id, for_update=True)
        assert plan is not None
        amount = min(amount, plan.total_minor - plan.paid_minor)
        if amount <= 0:
            continue
        await repo.add_contribution(
            session=session,
            plan_id=plan_id,
            payment_id=payment_id,
            amount_minor=amount,
            received_on=received_on,
        )
        plan.paid_minor += amount
        _, schedule, missed = await repo.plan_details(session=session, plan_id=plan_id)
        plan.next_due_date = rules.next_check(schedule, paid_minor=plan.paid_minor, missed=missed)
        if plan.paid_minor >= plan.total_minor:
            plan.status, plan.completed_on = "completed", received_on
            events.append(messages.plan_completed(plan, received_on))
    return events


async def uncount_payment(*, session: AsyncSession, payment_id: str) -> None:
    """A reversed payment stops paying installments: they reopen, the plan unless cancelled too
    or, completed, superseded by a newer active plan over any of its invoices."""
    removed = await repo.remove_contributions(session=session, payment_id=payment_id)
    for plan_id, amount in removed.items():
        plan = await repo.get_plan(session=session, plan_id=plan_id, for_update=True)
        assert plan is not None
        invoice_ids, schedule, missed = await repo.plan_details(session=session, plan_id=plan_id)
        before, plan.paid_minor = plan.paid_minor, plan.paid_minor - amount
        if plan.status == "cancelled":
            continue  # a cancelled plan keeps its history; it is never swept or reopened
        if plan.status == "completed" and await repo.active_plans_of_invoices(
            session=session, invoice_ids=invoice_ids
        ):
            # Its invoices were free once it completed and a newer plan took them: that plan
            # stands (an invoice is in one active plan at most); the money is open balance again.
            continue
        # A reopened installment is reported again if its date has passed: the money bounced.
        again = rules.reopened(schedule, paid_before=before, paid_after=plan.paid_minor)
        await repo.set_missed(session=session, plan_id=plan_id, numbers=again, at=None)
        missed -= set(again)
        plan.status, plan.completed_on = "active", None
        plan.next_due_date = rules.next_check(schedule, paid_minor=plan.paid_minor, missed=missed)


async def sweep(
    *, session: AsyncSession, grace_days: int, limit: int, now: dt.datetime
) -> list[Event]:
    """Report installments whose day passed unpaid where the customer is, once each; only due
    plans are read."""
    events: list[Event] = []
    due = await repo.due_plans(session=session, now=now, grace_days=grace_days, limit=limit)
    for plan, time_zone in due:
        _, schedule, missed = await repo.plan_details(session=session, plan_id=plan.id)
        today = _local_date(now, time_zone)
        views = rules.newly_missed(
            schedule, paid_minor=plan.paid_minor, missed=missed, today=today, grace_days=grace_days
        )
        numbers = [v.installment.number for v in views]
        await repo.set_missed(session=session, plan_id=plan.id, numbers=numbers, at=now)
        events += [messages.installment_missed(plan, v) for v in views]
        plan.next_due_date = rules.next_check(
            schedule, paid_minor=plan.paid_minor, missed=missed | set(numbers)
        )
    return events


def _local_date(now: dt.datetime, time_zone: str) -> dt.date:
    """The day it is at `now` where the customer is (plans are agreed and missed by it)."""
    return now.astimezone(ZoneInfo(time_zone)).date()
