"""The overdue sweep's marks kept right by code that changes invoices (see `refresh_marks`).

The sweep itself claims, reads and moves marks with its own SQL, beside it in `overdue.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.domain.aging import AgingMark, aging_mark


@dataclass(frozen=True, slots=True)
class AgingFacts:
    """What an invoice's mark is computed from, as the ledger holds it."""

    id: str
    account_id: str
    currency: str
    due_date: dt.date
    status: str
    balance_minor: int


# Waits for a sweep batch holding these marks, so the threshold it announced is not lost.
_LOCK_ANNOUNCED = text(
    "SELECT invoice_id, aging_threshold, due_date, next_aging_at FROM invoicing.invoice_aging"
    " WHERE invoice_id = ANY(:ids) ORDER BY invoice_id FOR UPDATE"
).bindparams(bindparam("ids", type_=ARRAY(String)))

_UPSERT_MARKS = text(
    "INSERT INTO invoicing.invoice_aging"
    " (invoice_id, account_id, currency, due_date, aging_threshold, next_aging_at)"
    " SELECT * FROM unnest(:ids, :accounts, :currencies, :due_dates, :thresholds, :next_ats)"
    " ON CONFLICT (invoice_id) DO UPDATE SET due_date = excluded.due_date,"
    " aging_threshold = excluded.aging_threshold, next_aging_at = excluded.next_aging_at"
).bindparams(
    bindparam("ids", type_=ARRAY(String)),
    bindparam("accounts", type_=ARRAY(String)),
    bindparam("currencies", type_=ARRAY(String)),
    bindparam("due_dates", type_=ARRAY(Date)),
    bindparam("thresholds", type_=ARRAY(Integer)),
    bindparam("next_ats", type_=ARRAY(Date)),
)


async def refresh_marks(
    *, session: AsyncSession, invoices: Iterable[AgingFacts], today: dt.date
) -> None:
    """Recompute the marks of invoices whose due date, balance or status just changed.

    Call it in the transaction that changed them. Thresholds already announced stay
    announced while still reached; closed invoices leave the sweep; re-opened ones (and
    ones whose due date moved later) are announced again when they next cross a threshold.
    Marks that stay the same are not written.
    """
    facts = {f.id: f for f in invoices}
    if not facts:
        return
    stored = {
        invoice_id: (announced, due_date, next_at)
        for invoice_id, announced, due_date, next_at in await session.execute(
            _LOCK_ANNOUNCED, {"ids": sorted(facts)}
        )
    }
    changed: list[tuple[AgingFacts, AgingMark]] = []
    for f in facts.values():
        announced, due_date, next_at = stored.get(f.id, (0, None, None))
        mark = aging_mark(
            due_date=f.due_date,
            today=today,
            status=f.status,
            balance_minor=f.balance_minor,
            announced=announced,
        )
        if f.id not in stored or (mark.threshold, mark.next_at, f.due_date) != (
            announced,
            next_at,
            due_date,
        ):
            changed.append((f, mark))
    if changed:
        await session.execute(_UPSERT_MARKS, _columns(changed))


def _columns(changed: Sequence[tuple[AgingFacts, AgingMark]]) -> dict[str, list[Any]]:
    return {
        "ids": [f.id for f, _ in changed],
        "accounts": [f.account_id for f, _ in changed],
        "currencies": [f.currency for f, _ in changed],
        "due_dates": [f.due_date for f, _ in changed],
        "thresholds": [m.threshold for _, m in changed],
        "next_ats": [m.next_at for _, m in changed],
    }


_FACTS = text(
    "SELECT id, account_id, currency, due_date, status, balance_minor FROM invoicing.invoices"
    " WHERE id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(String)))


async def refresh_aging(
    *, session: AsyncSession, invoice_ids: Sequence[str], today: dt.date
) -> None:
    """`refresh_marks` for invoices known by id only (their stored state is read first)."""
    if invoice_ids:
        await session.flush()
        rows = await session.execute(_FACTS, {"ids": list(invoice_ids)})
        await refresh_marks(
            session=session, invoices=[AgingFacts(*row) for row in rows], today=today
        )
