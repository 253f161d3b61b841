"""Persistence of payment plans, their installments and what each payment paid towards them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import Date, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payments.db import AccountRow, InstallmentRow, PlanContributionRow, PlanInvoiceRow, PlanRow
from payments.domain.plans import ScheduledInstallment


async def add_plan(
    *,
    session: AsyncSession,
    plan: PlanRow,
    invoice_ids: Sequence[str],
    installments: Sequence[ScheduledInstallment],
) -> None:
    """Insert a plan with its invoices and installments."""
    session.add(plan)
    await session.flush()
    await session.execute(
        pg_insert(PlanInvoiceRow), [{"plan_id": plan.id, "invoice_id": i} for i in invoice_ids]
    )
    await session.execute(
        pg_insert(InstallmentRow),
        [
            {
                "plan_id": plan.id,
                "number": x.number,
                "due_date": x.due_date,
                "amount_minor": x.amount_minor,
            }
            for x in installments
        ],
    )


async def get_plan(
    *, session: AsyncSession, plan_id: str, for_update: bool = False
) -> PlanRow | None:
    """One plan by id."""
    query = select(PlanRow).where(PlanRow.id == plan_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def plan_details(
    *, session: AsyncSession, plan_id: str
) -> tuple[list[str], list[ScheduledInstallment], set[int]]:
    """A plan's invoice ids, its schedule and the numbers of installments reported missed."""
    invoice_ids = list(
        await session.scalars(
            select(PlanInvoiceRow.invoice_id)
            .where(PlanInvoiceRow.plan_id == plan_id)
            .order_by(PlanInvoiceRow.invoice_id)
        )
    )
    rows = (
        await session.scalars(
            select(InstallmentRow)
            .where(InstallmentRow.plan_id == plan_id)
            .order_by(InstallmentRow.number)
        )
    ).all()
    schedule = [ScheduledInstallment(r.number, r.due_date, r.amount_minor) for r in rows]
    return invoice_ids, schedule, {r.number for r in rows if r.missed_at is not None}


async def plans_details(
    *, session: AsyncSession, plan_ids: Collection[str]
) -> dict[str, tuple[list[str], list[ScheduledInstallment], set[int]]]:
    """plan_details for many plans in two queries."""
    result: dict[str, tuple[list[str], list[ScheduledInstallment], set[int]]] = {
        p: ([], [], set()) for p in plan_ids
    }
    if not plan_ids:
        return result
    ids = list(plan_ids)
    invoices = await session.execute(
        select(PlanInvoiceRow.plan_id, PlanInvoiceRow.invoice_id)
        .where(PlanInvoiceRow.plan_id.in_(ids))
        .order_by(PlanInvoiceRow.plan_id, PlanInvoiceRow.invoice_id)
    )
    for plan_id, invoice_id in invoices:
        result[plan_id][0].append(invoice_id)
    rows = await session.scalars(
        select(InstallmentRow)
        .where(InstallmentRow.plan_id.in_(ids))
        .order_by(InstallmentRow.plan_id, InstallmentRow.number)
    )
    for r in rows:
        _, schedule, missed = result[r.plan_id]
        schedule.append(ScheduledInstallment(r.number, r.due_date, r.amount_minor))
        if r.missed_at is not None:
            missed.add(r.number)
    return result


async def list_plans(
    *,
    session: AsyncSession,
    account_id: str | None,
    status: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[PlanRow]:
    """Plans in the order they were agreed, optionally of one account and one status."""
    query = select(PlanRow).order_by(PlanRow.seq).limit(limit)
    if account_id is not None:
        query = query.where(PlanRow.account_id == account_id)
    if status is not None:
        query = query.where(PlanRow.status == status)
    if after_seq is not None:
        query = query.where(PlanRow.seq > after_seq)
    return (await session.scalars(query)).all()


async def active_plans_of_invoices(
    *, session: AsyncSession, invoice_ids: Collection[str]
) -> dict[str, str]:
    """The active plan covering each invoice, by invoice id."""
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(PlanInvoiceRow.invoice_id, PlanInvoiceRow.plan_id)
        .join(PlanRow, PlanRow.id == PlanInvoiceRow.plan_id)
        .where(PlanInvoiceRow.invoice_id.in_(list(invoice_ids)), PlanRow.status == "active")
    )
    return {invoice_id: plan_id for invoice_id, plan_id in rows}


async def add_contribution(
    *,
    session: AsyncSession,
    plan_id: str,
    payment_id: str,
    amount_minor: int,
    received_on: dt.date,
) -> None:
    """Count part of a payment towards a plan (added to what it already gave)."""
    statement = pg_insert(PlanContributionRow).values(
        plan_id=plan_id, payment_id=payment_id, amount_minor=amount_minor, received_on=received_on
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PlanContributionRow.plan_id, PlanContributionRow.payment_id],
            set_={"amount_minor": PlanContributionRow.amount_minor + amount_minor},
        )
    )


async def remove_contributions(*, session: AsyncSession, payment_id: str) -> dict[str, int]:
    """Take back what a payment gave to plans; returns the amount per plan."""
    rows = await session.execute(
        delete(PlanContributionRow)
        .where(PlanContributionRow.payment_id == payment_id)
        .returning(PlanContributionRow.plan_id, PlanContributionRow.amount_minor)
    )
    return {plan_id: amount for plan_id, amount in rows}


async def set_missed(
    *, session: AsyncSession, plan_id: str, numbers: Collection[int], at: dt.datetime | None
) -> None:
    """Stamp installments as reported missed (or clear the stamp when reopened)."""
    if numbers:
        await session.execute(
            update(InstallmentRow)
            .where(InstallmentRow.plan_id == plan_id, InstallmentRow.number.in_(list(numbers)))
            .values(missed_at=at)
        )


async def due_plans(
    *, session: AsyncSession, now: dt.datetime, grace_days: int, limit: int
) -> list[tuple[PlanRow, str]]:
    """Active plans with an installment whose due day (plus grace) has ended in the account's
    time zone, with that zone; locked, others' rows skipped."""
    # No zone is ahead of UTC+14: a bound the next_due_date index can use.
    earliest = (now + dt.timedelta(hours=14)).date() - dt.timedelta(days=grace_days)
    local_today = cast(func.timezone(AccountRow.time_zone, now), Date)
    query = (
        select(PlanRow, AccountRow.time_zone)
        .join(AccountRow, AccountRow.id == PlanRow.account_id)
        .where(
            PlanRow.status == "active",
            PlanRow.next_due_date < earliest,
            PlanRow.next_due_date + grace_days < local_today,
        )
        .order_by(PlanRow.next_due_date)
        .limit(limit)
        .with_for_update(skip_locked=True, of=PlanRow)
    )
    return [(plan, zone) for plan, zone in await session.execute(query)]
