"""ERP amendments: a known ERP invoice re-sent with new content, applied in ERP-time order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import InvoiceIssued, to_minor
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from invoicing.db import AccountRow, InvoiceLineRow, InvoiceRow
from invoicing.domain import DomainError, Terms
from invoicing.domain import ledger as rules
from invoicing.ledger.adjustments import adjust
from invoicing.ledger.book import Book, ledger_of, lock_invoices


@dataclass(frozen=True, slots=True)
class Amendment:
    """An InvoiceIssued for a known ERP invoice, with the ERP's event time and its hash."""

    data: InvoiceIssued
    erp_time: dt.datetime
    fingerprint: str


def _newer(amendment: Amendment, row: InvoiceRow) -> bool:
    """Order by (ERP event time, fingerprint): a total order, so every replica agrees."""
    if row.erp_event_time is None:
        return True
    stored = (row.erp_event_time, row.source_fingerprint or "")
    return (amendment.erp_time, amendment.fingerprint) > stored


async def apply_amendments(
    *, session: AsyncSession, outbox: Outbox, amendments: list[Amendment], now: dt.datetime
) -> None:
    """Apply each newer amendment; same content again or an older one changes nothing."""
    if not amendments:
        return
    rows = await lock_invoices(session=session, refs={a.data.invoice_id for a in amendments})
    owners = await _erp_account_ids(session, {row.account_id for row in rows.values()})
    book = Book(now=now)
    for amendment in amendments:
        row = rows[amendment.data.invoice_id]
        if row.source_fingerprint == amendment.fingerprint or not _newer(amendment, row):
            continue
        _check_same_invoice(amendment.data, row, owners.get(row.account_id))
        await _amend(session, book, row, amendment)
    await book.flush(session=session, outbox=outbox)


def _terms(data: InvoiceIssued, row: InvoiceRow) -> Terms:
    """The invoice's terms: the ERP's when it sends them, else those it was issued with."""
    if data.payment_terms is not None:
        return Terms(data.payment_terms.kind, data.payment_terms.days)
    return Terms(kind="net" if row.terms_kind == "net" else "end_of_month", days=row.terms_days)


async def _erp_account_ids(session: AsyncSession, account_ids: set[str]) -> dict[str, str]:
    """The ERP ids of these accounts (those that have one), in one query."""
    rows = await session.execute(
        select(AccountRow.id, AccountRow.external_id).where(AccountRow.id.in_(account_ids))
    )
    return {account_id: external_id for account_id, external_id in rows if external_id}


def _check_same_invoice(data: InvoiceIssued, row: InvoiceRow, owner: str | None) -> None:
    """Refuse new content that would make the invoice another one: account, number, currency."""
    if owner != data.account_id:
        raise RejectEvent(
            f"invoice {data.invoice_id} belongs to account {owner or row.account_id};"
            f" it cannot move to account {data.account_id}"
        )
    if data.invoice_number != row.invoice_number:
        raise RejectEvent(
            f"invoice {data.invoice_id} is number {row.invoice_number};"
            f" an amendment cannot renumber it to {data.invoice_number}"
        )
    if data.currency != row.currency:
        raise RejectEvent(f"invoice {data.invoice_id} cannot change currency to {data.currency}")


async def _amend(session: AsyncSession, book: Book, row: InvoiceRow, amendment: Amendment) -> None:
    data = amendment.data
    subtotal = sum(to_minor(line.net_amount, data.currency) for line in data.lines)
    tax = sum(to_minor(line.tax_amount, data.currency) for line in data.lines)
    # Notes issued in Dunlin stay on top of whatever the ERP now says the lines are worth.
    notes = row.total_minor - row.subtotal_minor - row.tax_total_minor
    previous_due = row.due_date
    try:
        change = rules.amend(ledger_of(row), subtotal + tax + notes)
    except DomainError as exc:
        raise RejectEvent(f"amendment of invoice {data.invoice_id} refused: {exc}") from exc
    terms, discount = _terms(data, row), data.early_payment_discount
    # No due date from the ERP: the terms decide it from the (possibly new) issue date.
    # (The event itself refuses a due date before the issue date and a discount of 0 %.)
    row.subtotal_minor, row.tax_total_minor = subtotal, tax
    row.due_date = data.due_date or terms.due_date(data.issue_date)
    row.terms_kind, row.terms_days = terms.kind, terms.days
    # The ERP sends the whole invoice: no discount in it means the invoice has none now.
    row.discount_percent = discount.percent if discount else None
    row.discount_days = discount.days if discount else None
    row.issue_date = data.issue_date
    row.purchase_order = data.purchase_order
    row.source_fingerprint = amendment.fingerprint
    row.erp_event_time = amendment.erp_time
    await session.execute(delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id == row.id))
    await session.execute(
        insert(InvoiceLineRow),
        [
            {
                "invoice_id": row.id,
                "line_no": n,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "tax_rate": line.tax_rate,
                "net_minor": to_minor(line.net_amount, data.currency),
                "tax_minor": to_minor(line.tax_amount, data.currency),
            }
            for n, line in enumerate(data.lines, start=1)
        ],
    )
    adjust(
        session=session,
        book=book,
        row=row,
        change=change,
        kind="amendment",
        actor="erp",
        reason="amended by the ERP",
        effective_date=amendment.erp_time.date(),
        previous_due_date=previous_due if previous_due != row.due_date else None,
    )
