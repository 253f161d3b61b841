"""Credit and debit notes, cancellation, write-off and ERP amendments of a stored invoice."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events.ledger import AdjustmentKind
from invoicing.db import InvoiceAdjustmentRow, InvoiceRow
from invoicing.domain import NotFound
from invoicing.domain import ledger as rules
from invoicing.domain.ledger import Change
from invoicing.ledger.book import Book, ledger_of, lock_invoices
from invoicing.ledger.messages import invoice_adjusted


async def locked_invoice(*, session: AsyncSession, invoice_id: str) -> InvoiceRow:
    """The invoice, locked for this transaction; NotFound when it does not exist."""
    row = (await lock_invoices(session=session, refs=[invoice_id])).get(invoice_id)
    if row is None or row.id != invoice_id:
        raise NotFound(f"invoice {invoice_id} does not exist")
    return row


def decide(row: InvoiceRow, kind: AdjustmentKind, amount_minor: int) -> Change:
    """The ledger rule for a requested adjustment."""
    ledger = ledger_of(row)
    if kind == "credit_note":
        return rules.credit_note(ledger, amount_minor)
    if kind == "debit_note":
        return rules.debit_note(ledger, amount_minor)
    if kind == "cancellation":
        return rules.cancel(ledger)
    if kind == "write_off":
        return rules.write_off(ledger)
    return rules.amend(ledger, amount_minor)


def adjust(
    *,
    session: AsyncSession,
    book: Book,
    row: InvoiceRow,
    change: Change,
    kind: AdjustmentKind,
    actor: str,
    reason: str | None,
    effective_date: dt.date,
    previous_due_date: dt.date | None = None,
    adjustment_id: str | None = None,
) -> str:
    """Record an adjustment: row, ledger entry, audit row and InvoiceAdjusted; its id back."""
    adjustment_id = adjustment_id or str(uuid.uuid4())
    if change.amount_minor or kind != "amendment":
        book.record(row, change, effective_date=effective_date, source_id=adjustment_id)
    else:
        book.store(row, change.after)  # only the due date moved: no balance entry
    session.add(
        InvoiceAdjustmentRow(
            id=adjustment_id,
            invoice_id=row.id,
            account_id=row.account_id,
            kind=kind,
            amount_minor=change.amount_minor,
            reason=reason,
            actor=actor,
            effective_date=effective_date,
            created_at=book.now,
        )
    )
    # A write-off leaves the total as invoiced; its delta is the balance written off.
    book.events.append(
        invoice_adjusted(
            row,
            adjustment_id=adjustment_id,
            kind=kind,
            amount_delta_minor=change.amount_minor,
            effective_date=effective_date,
            reason=reason,
            previous_due_date=previous_due_date,
        )
    )
    return adjustment_id
