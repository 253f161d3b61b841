"""Persistence of the overdue sweep: claim due marks, read overdue balances, store marks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.domain.aging import OPEN_STATUSES, AgingMark, aging_mark
from invoicing.domain.overdue import OverdueGroup


@dataclass(frozen=True, slots=True)
class DueRow:
    """A claimed mark with the facts it depends on (status and balance read from the invoice)."""

    id: str
    account_id: str
    currency: str
    due_date: dt.date
    status: str
    balance_minor: int
    announced: int


@dataclass(frozen=True, slots=True)
class AgingFacts:
    """What an invoice's mark is computed from, as the ledger holds it."""

    id: str
    account_id: str
    currency: str
    due_date: dt.date
    status: str
    balance_minor: int


_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)

# Up to :limit due marks, oldest first, then every other due mark of the same accounts, so an
# account gets one notice per sweep rather than one per batch it straddles. Workers take one
# part of the accounts each (by hash), so no two announce the same account. Rows other
# transactions hold are skipped; the invoice's status and balance come along.
_CLAIM = text("""
    WITH first AS (
        SELECT account_id FROM invoicing.invoice_aging
        WHERE next_aging_at <= :today
          AND (:parts = 1 OR (hashtext(account_id) & 2147483647) % :parts = :part)
        ORDER BY next_aging_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        SELECT a.invoice_id, a.account_id, a.currency, a.due_date, a.aging_threshold
        FROM invoicing.invoice_aging AS a
        WHERE a.next_aging_at <= :today
          AND a.account_id IN (SELECT DISTINCT account_id FROM first)
        FOR UPDATE OF a SKIP LOCKED
    )
    SELECT c.invoice_id, c.account_id, c.currency, c.due_date, i.status, i.balance_minor,
           c.aging_threshold
    FROM claimed AS c CROSS JOIN LATERAL (
        SELECT status, balance_minor FROM invoicing.invoices WHERE id = c.invoice_id OFFSET 0
    ) AS i
""").bindparams(
    bindparam("today", type_=Date),
    bindparam("parts", type_=Integer),
    bindparam("part", type_=Integer),
    bindparam("limit", type_=Integer),
)


async def claim_due(
    *, session: AsyncSession, today: dt.date, limit: int, part: int = 0, parts: int = 1
) -> list[DueRow]:
    """Lock a batch of marks due by `today` (whole accounts) with their invoices' facts."""
    rows = await session.execute(
        _CLAIM, {"today": today, "parts": parts, "part": part, "limit": limit}
    )
    return [DueRow(*row) for row in rows]


# Per account and currency asked for: the open invoices past due with an undisputed balance,
# oldest first (invoice numbers in code point order, as Python sorts them), as parallel arrays.
# `LATERAL (... OFFSET 0)` (also in _CLAIM) keeps the lookups on the invoices' indexes: with
# a few thousand keys the planner's costs otherwise prefer a hash join over a scan of every
# invoice, ten times slower with the table in memory.
_OVERDUE = text(f"""
    SELECT g.account_id, g.currency,
           array_agg(i.id ORDER BY i.due_date, i.invoice_number COLLATE "C"),
           array_agg(i.invoice_number ORDER BY i.due_date, i.invoice_number COLLATE "C"),
           array_agg(i.due_date ORDER BY i.due_date, i.invoice_number COLLATE "C"),
           array_agg(i.undisputed ORDER BY i.due_date, i.invoice_number COLLATE "C"),
           sum(i.undisputed)
    FROM unnest(:accounts, :currencies) AS g(account_id, currency)
    CROSS JOIN LATERAL (
        SELECT id, invoice_number, due_date, balance_minor - disputed_minor AS undisputed
        FROM invoicing.invoices
        WHERE account_id = g.account_id AND currency = g.currency
          AND status IN ({_OPEN}) AND due_date < :today AND balance_minor - disputed_minor > 0
        OFFSET 0
    ) AS i
    GROUP BY g.account_id, g.currency
""").bindparams(  # noqa: S608 (only module constants are interpolated; values are bound)
    bindparam("accounts", type_=ARRAY(String)),
    bindparam("currencies", type_=ARRAY(String)),
    bindparam("today", type_=Date),
)


async def overdue_groups(
    *, session: AsyncSession, keys: Collection[tuple[str, str]], today: dt.date
) -> list[OverdueGroup]:
    """The overdue invoices of each (account, currency), summed in SQL; empty groups omitted."""
    if not keys:
        return []
    accounts, currencies = zip(*keys, strict=True)
    rows = await session.execute(
        _OVERDUE, {"accounts": list(accounts), "currencies": list(currencies), "today": today}
    )
    return [
        OverdueGroup(account, currency, ids, numbers, due_dates, balances, int(total))
        for account, currency, ids, numbers, due_dates, balances, total in rows
    ]


# One UPDATE from parallel arrays, however many marks.
_SET_MARKS = text(
    "UPDATE invoicing.invoice_aging AS a"
    " SET aging_threshold = u.threshold, next_aging_at = u.next_at"
    " FROM unnest(:ids, :thresholds, :next_ats) AS u(id, threshold, next_at)"
    " WHERE a.invoice_id = u.id"
).bindparams(
    bindparam("ids", type_=ARRAY(String)),
    bindparam("thresholds", type_=ARRAY(Integer)),
    bindparam("next_ats", type_=ARRAY(Date)),
)


async def set_marks(*, session: AsyncSession, marks: Mapping[str, AgingMark]) -> None:
    """Store many invoices' aging marks in one statement."""
    if marks:
        ids = list(marks)
        await session.execute(
            _SET_MARKS,
            {
                "ids": ids,
                "thresholds": [marks[i].threshold for i in ids],
                "next_ats": [marks[i].next_at for i in ids],
            },
        )


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
