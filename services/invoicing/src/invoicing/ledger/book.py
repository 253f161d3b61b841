"""One transaction's ledger writes: invoice rows changed, entries recorded, events staged."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event, InvoiceSettled, from_minor
from dunlin_platform.outbox import Outbox
from invoicing.db import InvoiceRow, LedgerEntryRow
from invoicing.domain.ledger import Change, EntryKind, InvoiceLedger, LedgerStatus
from invoicing.repository.aging import AgingFacts, refresh_marks


def ledger_of(row: InvoiceRow) -> InvoiceLedger:
    """The money state of a stored invoice."""
    status: LedgerStatus = row.status  # type: ignore[assignment]
    return InvoiceLedger(
        invoice_id=row.id,
        total_minor=row.total_minor,
        paid_minor=row.paid_minor,
        written_off_minor=row.written_off_minor,
        disputed_minor=row.disputed_minor,
        status=status,
    )


def store(row: InvoiceRow, ledger: InvoiceLedger) -> None:
    """Copy a new money state onto the row (flushed with the transaction)."""
    row.total_minor = ledger.total_minor
    row.paid_minor = ledger.paid_minor
    row.written_off_minor = ledger.written_off_minor
    row.disputed_minor = ledger.disputed_minor
    row.balance_minor = ledger.balance_minor
    row.status = ledger.status


async def lock_invoices(*, session: AsyncSession, refs: Collection[str]) -> dict[str, InvoiceRow]:
    """Lock the invoices named by Dunlin id or external id, in id order; keyed by both."""
    if not refs:
        return {}
    ids = list(refs)
    rows = await session.scalars(
        select(InvoiceRow)
        .where(or_(InvoiceRow.id.in_(ids), InvoiceRow.external_id.in_(ids)))
        .order_by(InvoiceRow.id)
        .with_for_update()
    )
    found: dict[str, InvoiceRow] = {}
    for row in rows:
        found[row.id] = row
        if row.external_id is not None:
            found.setdefault(row.external_id, row)
    return found


@dataclass
class Book:
    """Staged ledger entries and events; everything lands in the caller's transaction."""

    now: dt.datetime
    entries: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Invoices whose balance, status or due date may have moved: their aging marks follow.
    changed: dict[str, InvoiceRow] = field(default_factory=dict)

    def store(self, row: InvoiceRow, ledger: InvoiceLedger) -> None:
        """`store` the new state, and refresh the invoice's aging mark at `flush`."""
        store(row, ledger)
        self.changed[row.id] = row

    def entry(
        self,
        row: InvoiceRow,
        *,
        kind: EntryKind,
        amount_minor: int,
        effective_date: dt.date,
        source_id: str,
    ) -> None:
        """Record one signed balance change of an invoice."""
        self.entries.append(
            {
                "id": str(uuid.uuid4()),
                "account_id": row.account_id,
                "invoice_id": row.id,
                "kind": kind,
                "amount_minor": amount_minor,
                "currency": row.currency,
                "effective_date": effective_date,
                "source_id": source_id,
                "created_at": self.now,
            }
        )

    def record(
        self,
        row: InvoiceRow,
        change: Change,
        *,
        effective_date: dt.date,
        source_id: str,
        kind: EntryKind | None = None,
    ) -> None:
        """Apply a rule's decision to the row, write its entry, and settle when it is paid."""
        self.store(row, change.after)
        self.entry(
            row,
            kind=kind or change.kind,
            amount_minor=change.amount_minor,
            effective_date=effective_date,
            source_id=source_id,
        )
        if change.after.status != "paid":
            row.settled_on = None
        elif change.settled:
            row.settled_on = effective_date
            self.events.append(invoice_settled(row, settled_on=effective_date))

    async def flush(self, *, session: AsyncSession, outbox: Outbox) -> None:
        """Write the entries, refresh the changed invoices' aging marks, stage the events.

        A re-opened invoice (payment reversed) or one whose due date moved is announced
        again when it next crosses a threshold; a closed one leaves the overdue sweep.
        """
        if self.entries:
            await session.execute(insert(LedgerEntryRow), self.entries)
        await refresh_marks(
            session=session,
            invoices=[
                AgingFacts(r.id, r.account_id, r.currency, r.due_date, r.status, r.balance_minor)
                for r in self.changed.values()
            ],
            today=self.now.date(),
        )
        await outbox.add(session, *self.events, occurred_at=self.now)
        self.entries.clear()
        self.events.clear()
        self.changed.clear()


def invoice_settled(row: InvoiceRow, *, settled_on: dt.date) -> InvoiceSettled:
    """The InvoiceSettled fact of an invoice whose balance just reached 0."""
    return InvoiceSettled(
        account_id=row.account_id,
        invoice_id=row.id,
        invoice_number=row.invoice_number,
        currency=row.currency,
        total=from_minor(row.total_minor, row.currency),
        paid_amount=from_minor(row.paid_minor, row.currency),
        due_date=row.due_date,
        settled_on=settled_on,
        days_late=(settled_on - row.due_date).days,
    )
