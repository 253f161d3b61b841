"""Persistence of the overdue sweep: claim due invoices, read overdue ones, store aging marks."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Date,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.db import InvoiceRow
from invoicing.domain.aging import OPEN_STATUSES, AgingMark, aging_mark
from invoicing.domain.overdue import OverdueItem


@dataclass(frozen=True, slots=True)
class DueRow:
    """An invoice the sweep claimed: the facts its aging mark depends on."""

    id: str
    account_id: str
    currency: str
    due_date: dt.date
    status: str
    balance_minor: int
    announced: int


_DUE_COLUMNS = (
    InvoiceRow.id,
    InvoiceRow.account_id,
    InvoiceRow.currency,
    InvoiceRow.due_date,
    InvoiceRow.status,
    InvoiceRow.balance_minor,
    InvoiceRow.aging_threshold,
)


def _strings(name: str) -> BindParameter[Any]:
    """A bound list of strings, sent as one Postgres array (one parameter however long)."""
    return bindparam(name, type_=ARRAY(String()))


async def claim_due(
    *, session: AsyncSession, today: dt.date, limit: int, part: int = 0, parts: int = 1
) -> list[DueRow]:
    """Lock up to `limit` invoices due for aging, oldest mark first; rows others hold are skipped.

    Then the other due invoices of the same accounts are claimed too, so one account gets
    one notice per sweep rather than one per batch it straddles. Concurrent workers each
    take one part of the accounts (by hash), so no two of them announce the same account.
    """
    due = InvoiceRow.next_aging_at <= today
    if parts > 1:
        due = and_(due, func.hashtext(InvoiceRow.account_id).op("&")(0x7FFFFFFF) % parts == part)
    first = await session.execute(
        select(*_DUE_COLUMNS)
        .where(due)
        .order_by(InvoiceRow.next_aging_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [DueRow(*row) for row in first]
    if not rows:
        return rows
    # A join on the unnested array (hashable) rather than `= ANY(array)`, which the planner
    # checks element by element on every due row.
    accounts = select(func.unnest(_strings("accounts")).column_valued("account_id"))
    more = await session.execute(
        select(*_DUE_COLUMNS)
        .where(InvoiceRow.next_aging_at <= today, InvoiceRow.account_id.in_(accounts))
        .with_for_update(skip_locked=True),
        {"accounts": sorted({r.account_id for r in rows})},
    )
    claimed = {r.id for r in rows}
    return rows + [DueRow(*row) for row in more if row.id not in claimed]


async def overdue_items(
    *, session: AsyncSession, account_ids: Collection[str], today: dt.date
) -> dict[tuple[str, str], list[OverdueItem]]:
    """Every open invoice past its due date of these accounts, by (account, currency)."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(
            InvoiceRow.account_id,
            InvoiceRow.currency,
            InvoiceRow.id,
            InvoiceRow.invoice_number,
            InvoiceRow.due_date,
            InvoiceRow.balance_minor - InvoiceRow.disputed_minor,
        ).where(
            InvoiceRow.account_id == any_(_strings("accounts")),
            InvoiceRow.status.in_(OPEN_STATUSES),
            InvoiceRow.due_date < today,
            InvoiceRow.balance_minor > 0,
        ),
        {"accounts": sorted(account_ids)},
    )
    items: dict[tuple[str, str], list[OverdueItem]] = defaultdict(list)
    for account_id, currency, invoice_id, number, due_date, undisputed in rows:
        items[(account_id, currency)].append(
            OverdueItem(invoice_id, number, due_date, max(int(undisputed), 0))
        )
    return items


# One UPDATE from parallel arrays, however many invoices.
_SET_MARKS = text(
    "UPDATE invoicing.invoices AS i SET aging_threshold = u.threshold, next_aging_at = u.next_at"
    " FROM unnest(:ids, :thresholds, :next_ats) AS u(id, threshold, next_at)"
    " WHERE i.id = u.id"
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


async def refresh_aging(
    *, session: AsyncSession, invoice_ids: Sequence[str], today: dt.date
) -> None:
    """Recompute the aging marks of invoices whose due date, balance or status just changed.

    Call it in the transaction that changed them. Thresholds already announced stay
    announced while still reached; closed invoices leave the sweep; re-opened ones (and
    ones whose due date moved later) are announced again when they next cross a threshold.
    """
    if not invoice_ids:
        return
    rows = await session.execute(
        select(*_DUE_COLUMNS).where(InvoiceRow.id == any_(_strings("ids"))),
        {"ids": list(invoice_ids)},
    )
    marks = {
        row.id: aging_mark(
            due_date=row.due_date,
            today=today,
            status=row.status,
            balance_minor=row.balance_minor,
            announced=row.announced,
        )
        for row in (DueRow(*r) for r in rows)
    }
    await set_marks(session=session, marks=marks)


def mark_row(row: InvoiceRow, *, today: dt.date) -> None:
    """Recompute a loaded invoice row's aging mark in place (flushed with the session)."""
    mark = aging_mark(
        due_date=row.due_date,
        today=today,
        status=row.status,
        balance_minor=row.balance_minor,
        announced=row.aging_threshold or 0,
    )
    row.aging_threshold, row.next_aging_at = mark.threshold, mark.next_at
