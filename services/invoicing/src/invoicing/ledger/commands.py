"""REST commands on the ledger: notes, cancel, write-off, disputes (state + events, one tx)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events.ledger import AdjustmentKind
from dunlin_platform.outbox import Outbox
from invoicing.db import DisputeRow, InvoiceRow
from invoicing.domain import DomainError, InvalidTransition, NotFound
from invoicing.domain import ledger as rules
from invoicing.ledger.adjustments import adjust, decide, locked_invoice
from invoicing.ledger.book import Book, ledger_of, store
from invoicing.ledger.messages import dispute_resolved, invoice_disputed


async def adjust_invoice(
    *,
    session: AsyncSession,
    outbox: Outbox,
    invoice_id: str,
    kind: AdjustmentKind,
    amount_minor: int,
    reason: str | None,
    actor: str,
    now: dt.datetime,
) -> InvoiceRow:
    """Apply a credit/debit note, cancellation or write-off and publish InvoiceAdjusted."""
    row = await locked_invoice(session=session, invoice_id=invoice_id)
    book = Book(now=now)
    adjust(
        session=session,
        book=book,
        row=row,
        change=decide(row, kind, amount_minor),
        kind=kind,
        actor=actor,
        reason=reason,
        effective_date=now.date(),
    )
    await book.flush(session=session, outbox=outbox)
    return row


async def open_dispute(
    *,
    session: AsyncSession,
    outbox: Outbox,
    invoice_id: str,
    amount_minor: int,
    reason: str,
    contact_id: str | None,
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> DisputeRow:
    """Dispute part of an invoice's balance and publish InvoiceDisputed."""
    row = await locked_invoice(session=session, invoice_id=invoice_id)
    store(row, rules.open_dispute(ledger_of(row), amount_minor))
    dispute = DisputeRow(
        id=str(uuid.uuid4()),
        invoice_id=row.id,
        account_id=row.account_id,
        currency=row.currency,
        amount_minor=amount_minor,
        reason=reason,
        contact_id=contact_id,
        note=note,
        status="open",
        opened_by=actor,
        opened_at=now,
        credited_minor=0,
    )
    session.add(dispute)
    await session.flush()
    await outbox.add(session, invoice_disputed(dispute), occurred_at=now)
    return dispute


async def resolve_dispute(
    *,
    session: AsyncSession,
    outbox: Outbox,
    dispute_id: str,
    outcome: str,
    credit_minor: int,
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> DisputeRow:
    """End a dispute; upheld issues a credit note (InvoiceAdjusted) before DisputeResolved."""
    dispute = await session.get(DisputeRow, dispute_id, with_for_update=True)
    if dispute is None:
        raise NotFound(f"dispute {dispute_id} does not exist")
    if dispute.status != "open":
        raise InvalidTransition(f"the dispute is already {dispute.status}", status=dispute.status)
    if (outcome == "upheld") != (credit_minor > 0):
        raise DomainError(
            "an upheld dispute needs a credit amount > 0; other outcomes credit nothing",
            field="credit_amount",
        )
    row = await locked_invoice(session=session, invoice_id=dispute.invoice_id)
    store(row, rules.close_dispute(ledger_of(row), dispute.amount_minor))
    book = Book(now=now)
    if credit_minor:
        dispute.credit_note_id = adjust(
            session=session,
            book=book,
            row=row,
            change=rules.credit_note(ledger_of(row), credit_minor),
            kind="credit_note",
            actor=actor,
            reason=f"dispute {dispute.id} upheld",
            effective_date=now.date(),
        )
    dispute.status = outcome
    dispute.credited_minor = credit_minor
    dispute.resolved_by, dispute.resolved_at, dispute.resolution_note = actor, now, note
    book.events.append(dispute_resolved(dispute))
    await book.flush(session=session, outbox=outbox)
    return dispute
