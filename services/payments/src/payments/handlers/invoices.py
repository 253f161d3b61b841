"""invoicing.events into the read model: accounts, invoices, and credit waiting for them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import (
    AccountRegistered,
    Event,
    InvoiceAdjusted,
    InvoiceIssued,
    InvoiceSettled,
    to_minor,
)
from payments.db import AccountRow, InvoiceRow
from payments.domain.allocation import AllocationRule
from payments.domain.ledger import InvoiceState, add_invoice, adjust_invoice
from payments.handlers import ledger as steps
from payments.repository import ledger as repo

_CLOSING_STATUSES = ("cancelled", "written_off")


async def account_registered(
    *, session: AsyncSession, event: AccountRegistered, now: dt.datetime
) -> None:
    """Remember the account, its ERP id and its currency."""
    await repo.upsert_account(
        session=session,
        account_id=event.account_id,
        external_id=event.external_id,
        currency=event.currency,
        now=now,
        time_zone=event.time_zone,
    )


async def _locked_account(
    *,
    session: AsyncSession,
    account_id: str,
    currency: str,
    external_id: str | None,
    now: dt.datetime,
) -> AccountRow:
    accounts = await repo.lock_accounts(session=session, account_ids=[account_id])
    if account_id not in accounts:
        # invoicing registers accounts before their invoices; this only covers a replay gap.
        await repo.upsert_account(
            session=session,
            account_id=account_id,
            external_id=external_id,
            currency=currency,
            now=now,
        )
        accounts = await repo.lock_accounts(session=session, account_ids=[account_id])
    return accounts[account_id]


async def invoice_issued(
    *, session: AsyncSession, event: InvoiceIssued, default_rule: AllocationRule, now: dt.datetime
) -> list[Event]:
    """Add the invoice; earmarked and general credit of the account flow to it."""
    if await session.get(InvoiceRow, event.invoice_id) is not None:
        return []  # already known: the read model is built once per invoice
    account = await _locked_account(
        session=session,
        account_id=event.account_id,
        currency=event.currency,
        external_id=event.account_external_id,
        now=now,
    )
    assert event.due_date is not None, "invoicing.events always carries the due date"
    row = InvoiceRow(
        id=event.invoice_id,
        account_id=account.id,
        invoice_number=event.invoice_number,
        external_id=event.external_id,
        currency=event.currency,
        due_date=event.due_date,
        total_minor=to_minor(event.total, event.currency),
        allocated_minor=0,
        closed=False,
        status="open",
        created_at=now,
    )
    session.add(row)
    await session.flush()
    ledger = await steps.open_ledger(session=session, account=account, default_rule=default_rule)
    ledger.invoices.pop(row.id, None)
    moved = add_invoice(
        ledger,
        InvoiceState(
            id=row.id,
            number=row.invoice_number,
            external_id=row.external_id,
            due_date=row.due_date,
            seq=row.seq,
            total_minor=row.total_minor,
        ),
    )
    await steps.close(session=session, ledger=ledger, payment_ids=[s.payment_id for s in moved])
    return await steps.record_credit_steps(session=session, steps=moved, now=now)


async def invoice_adjusted(
    *, session: AsyncSession, event: InvoiceAdjusted, default_rule: AllocationRule, now: dt.datetime
) -> list[Event]:
    """Take invoicing's new total (credit/debit note, cancellation, write-off)."""
    row = await session.get(InvoiceRow, event.invoice_id, populate_existing=True)
    if row is None:
        return []  # never issued as far as payments knows: nothing to adjust
    account = (await repo.lock_accounts(session=session, account_ids=[row.account_id]))[
        row.account_id
    ]
    ledger = await steps.open_ledger(session=session, account=account, default_rule=default_rule)
    await repo.load_invoices(session=session, ledger=ledger, invoice_ids=[row.id])
    row.total_minor = to_minor(event.total, event.currency)
    row.closed = event.status in _CLOSING_STATUSES
    row.status = event.status
    moved = adjust_invoice(
        ledger, invoice_id=row.id, total_minor=row.total_minor, closed=row.closed
    )
    await steps.close(session=session, ledger=ledger, payment_ids=[s.payment_id for s in moved])
    return await steps.record_credit_steps(session=session, steps=moved, now=now)


async def invoice_settled(*, session: AsyncSession, event: InvoiceSettled) -> None:
    """Note the settlement date; the balance already follows from totals and allocations."""
    row = await session.get(InvoiceRow, event.invoice_id)
    if row is not None:
        row.settled_on = event.settled_on


async def account_row(*, session: AsyncSession, account_id: str) -> AccountRow | None:
    """One account of the read model."""
    return (
        await session.scalars(select(AccountRow).where(AccountRow.id == account_id))
    ).one_or_none()
