"""The overdue sweep's earlier step-by-step path, kept only as the oracle of
`test_overdue_sweep_sql.py`: claim the due marks, read the overdue balances, store the marks,
one statement each. The service sweeps with `invoicing.overdue.sweep_batch` (one statement
for claim and balances); this must stay as it was, so that test compares against a fixed
reference (moved here from `invoicing.repository.aging`, which holds production code only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import Date, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.domain.aging import OPEN_STATUSES, AgingMark
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
""").bindparams(  # only module constants are interpolated; values are bound
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
