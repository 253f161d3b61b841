"""The "invoice became known" hook, shared by the REST and the ERP paths."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.outbox import Outbox
from invoicing.domain import Invoice
from invoicing.ledger.applier import Applier
from invoicing.ledger.book import Book, lock_invoices

_HELD_REFS = text(
    "SELECT DISTINCT invoice_ref FROM invoicing.held_allocations"
    " WHERE status = 'held' AND invoice_ref = ANY(:refs)"
).bindparams(bindparam("refs", type_=ARRAY(String)))


async def invoices_became_known(
    *, session: AsyncSession, outbox: Outbox, invoices: Sequence[Invoice], now: dt.datetime
) -> dict[str, Invoice]:
    """Apply the allocations that were held for just-stored invoices; returns those changed.

    One query for the whole batch finds the holds (usually none); only the invoices that
    have some are then locked and run through the ledger rules.
    """
    refs = {ref for i in invoices for ref in (i.id, i.external_id) if ref is not None}
    if not refs:
        return {}
    held = {ref for (ref,) in await session.execute(_HELD_REFS, {"refs": sorted(refs)})}
    if not held:
        return {}
    waiting = [i for i in invoices if i.id in held or i.external_id in held]
    locked = await lock_invoices(session=session, refs=[i.id for i in waiting])
    rows = sorted((locked[i.id] for i in waiting), key=lambda r: r.id)
    book = Book(now=now)
    await Applier(session=session, book=book, invoices=dict(locked)).release_holds(rows)
    await book.flush(session=session, outbox=outbox)
    return {
        i.id: dataclasses.replace(
            i,
            status=locked[i.id].status,  # type: ignore[arg-type]
            balance_minor=locked[i.id].balance_minor,
            paid_minor=locked[i.id].paid_minor,
            written_off_minor=locked[i.id].written_off_minor,
            settled_on=locked[i.id].settled_on,
        )
        for i in waiting
    }
