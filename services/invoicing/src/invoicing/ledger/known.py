"""The "invoice became known" hook, shared by the REST and the ERP paths."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.outbox import Outbox
from invoicing.ledger.applier import Applier
from invoicing.ledger.book import Book, lock_invoices


async def invoices_became_known(
    *, session: AsyncSession, outbox: Outbox, invoice_ids: Collection[str], now: dt.datetime
) -> None:
    """Open the ledger of new invoices and apply the allocations that were held for them."""
    if not invoice_ids:
        return
    locked = await lock_invoices(session=session, refs=invoice_ids)
    rows = sorted({locked[i].id: locked[i] for i in invoice_ids}.values(), key=lambda r: r.id)
    book = Book(now=now)
    for row in rows:
        book.entry(
            row,
            kind="invoice",
            amount_minor=row.total_minor,
            effective_date=row.issue_date,
            source_id=row.id,
        )
    await Applier(session=session, book=book, invoices=dict(locked)).release_holds(rows)
    await book.flush(session=session, outbox=outbox)
