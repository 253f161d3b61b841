"""Persistence of the account read model and the ledger (invoices, credits, allocations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payments.db import AccountRow, AllocationRow, InvoiceRow, PaymentRow
from payments.domain.allocation import AllocationRule
from payments.domain.ledger import Credit, InvoiceState, Ledger


async def lock_accounts(
    *, session: AsyncSession, account_ids: Collection[str]
) -> dict[str, AccountRow]:
    """Lock the accounts' rows (sorted, so concurrent batches cannot deadlock) and return them."""
    if not account_ids:
        return {}
    rows = await session.scalars(
        select(AccountRow)
        .where(AccountRow.id.in_(sorted(account_ids)))
        .order_by(AccountRow.id)
        .with_for_update()
        # Accounts may have been upserted in this transaction since they were last loaded.
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


async def accounts_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, str]:
    """Dunlin account ids by the ERP's account ids."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(AccountRow.external_id, AccountRow.id).where(
            AccountRow.external_id.in_(list(external_ids))
        )
    )
    return {external: account_id for external, account_id in rows if external is not None}


async def upsert_account(
    *,
    session: AsyncSession,
    account_id: str,
    external_id: str | None,
    currency: str,
    now: dt.datetime,
    time_zone: str | None = None,
) -> None:
    """Remember an account (or refresh its ERP id); payments' own settings are kept."""
    values = {"id": account_id, "external_id": external_id, "currency": currency}
    if time_zone is not None:
        values["time_zone"] = time_zone
    statement = pg_insert(AccountRow).values(**values, updated_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[AccountRow.id],
            set_={
                **{column: statement.excluded[column] for column in values if column != "id"},
                "updated_at": now,
            },
        )
    )


def _state(row: InvoiceRow) -> InvoiceState:
    return InvoiceState(
        id=row.id,
        number=row.invoice_number,
        external_id=row.external_id,
        due_date=row.due_date,
        seq=row.seq,
        total_minor=row.total_minor,
        allocated_minor=row.allocated_minor,
        closed=row.closed,
    )


async def load_ledger(
    *,
    session: AsyncSession,
    account_id: str,
    rule: AllocationRule,
    references: Collection[str] = (),
) -> Ledger:
    """The account's open invoices, the ones references name, and all unapplied credit."""
    wanted = list(references)
    invoices = await session.scalars(
        select(InvoiceRow)
        .where(
            InvoiceRow.account_id == account_id,
            or_(
                and_(~InvoiceRow.closed, InvoiceRow.total_minor > InvoiceRow.allocated_minor),
                InvoiceRow.id.in_(wanted),
                InvoiceRow.external_id.in_(wanted),
                InvoiceRow.invoice_number.in_(wanted),
            ),
        )
        .execution_options(populate_existing=True)
    )
    credits = await session.scalars(
        select(PaymentRow)
        .where(
            PaymentRow.account_id == account_id,
            PaymentRow.status == "received",
            or_(PaymentRow.credit_minor > 0, PaymentRow.earmarked_minor > 0),
        )
        .execution_options(populate_existing=True)
    )
    return Ledger(
        rule=rule,
        invoices={row.id: _state(row) for row in invoices},
        credits={
            row.id: Credit(row.id, row.seq, row.credit_minor, dict(row.earmarks)) for row in credits
        },
    )


async def load_invoices(
    *, session: AsyncSession, ledger: Ledger, invoice_ids: Iterable[str]
) -> None:
    """Add invoices (whatever their balance) to a loaded ledger."""
    missing = [i for i in set(invoice_ids) if i not in ledger.invoices]
    if missing:
        query = (
            select(InvoiceRow)
            .where(InvoiceRow.id.in_(missing))
            .execution_options(populate_existing=True)
        )
        for row in await session.scalars(query):
            ledger.invoices[row.id] = _state(row)


async def save_ledger(*, session: AsyncSession, ledger: Ledger, payment_ids: Iterable[str]) -> None:
    """Write back allocated amounts and the credit of every payment the ledger touched."""
    if ledger.invoices:
        await session.execute(
            update(InvoiceRow),
            [{"id": i.id, "allocated_minor": i.allocated_minor} for i in ledger.invoices.values()],
        )
    touched = set(payment_ids) | set(ledger.credits)
    if touched:
        rows = []
        for payment_id in touched:
            credit = ledger.credits.get(payment_id)
            earmarks = dict(credit.earmarks) if credit else {}
            rows.append(
                {
                    "id": payment_id,
                    "credit_minor": credit.general_minor if credit else 0,
                    "earmarks": earmarks,
                    "earmarked_minor": sum(earmarks.values()),
                }
            )
        await session.execute(update(PaymentRow), rows)


async def add_allocations(
    *,
    session: AsyncSession,
    payment_id: str,
    allocations: Iterable[tuple[str, int]],
    kind: str,
    now: dt.datetime,
) -> None:
    """Record allocations of one payment."""
    rows = [
        {
            "payment_id": payment_id,
            "invoice_id": invoice_id,
            "amount_minor": amount,
            "kind": kind,
            "created_at": now,
        }
        for invoice_id, amount in allocations
    ]
    if rows:
        await session.execute(pg_insert(AllocationRow), rows)


async def live_allocations(
    *, session: AsyncSession, payment_ids: Collection[str]
) -> dict[str, list[tuple[str, int]]]:
    """Allocations not reversed, per payment, in the order they were made."""
    result: dict[str, list[tuple[str, int]]] = {p: [] for p in payment_ids}
    if not payment_ids:
        return result
    rows = await session.execute(
        select(AllocationRow.payment_id, AllocationRow.invoice_id, AllocationRow.amount_minor)
        .where(AllocationRow.payment_id.in_(list(payment_ids)), AllocationRow.reversed_at.is_(None))
        .order_by(AllocationRow.id)
    )
    for payment_id, invoice_id, amount in rows:
        result[payment_id].append((invoice_id, amount))
    return result


async def reverse_allocations(*, session: AsyncSession, payment_id: str, now: dt.datetime) -> None:
    """Stamp a payment's live allocations as reversed."""
    await session.execute(
        update(AllocationRow)
        .where(AllocationRow.payment_id == payment_id, AllocationRow.reversed_at.is_(None))
        .values(reversed_at=now)
    )


async def all_allocations(
    *, session: AsyncSession, payment_ids: Collection[str]
) -> dict[str, list[AllocationRow]]:
    """Every allocation of the payments, reversed ones included, in order (one query)."""
    result: dict[str, list[AllocationRow]] = {p: [] for p in payment_ids}
    if payment_ids:
        rows = await session.scalars(
            select(AllocationRow)
            .where(AllocationRow.payment_id.in_(list(payment_ids)))
            .order_by(AllocationRow.id)
        )
        for row in rows:
            result[row.payment_id].append(row)
    return result
