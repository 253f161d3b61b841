"""Account statements: opening balance, the ledger entries of a period, running and closing.

A ledger entry's amount is its signed effect on what the customer owes: positive amounts
(invoices, debit notes, reversed payments) are debits, negative ones (payments, credit
notes, write-offs, cancellations) credits. Balances are per currency, never summed across.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from invoicing.db import InvoiceRow, LedgerEntryRow


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry as a statement shows it."""

    seq: int
    date: dt.date
    kind: str
    currency: str
    amount_minor: int
    invoice_id: str | None
    invoice_number: str | None
    source_id: str


@dataclass(frozen=True, slots=True)
class Line:
    """A statement line: the entry split into debit or credit, and the balance after it."""

    entry: Entry
    debit_minor: int
    credit_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class Totals:
    """One currency's opening and closing balance and the period's debits and credits."""

    opening_minor: int
    debits_minor: int
    credits_minor: int
    closing_minor: int


def running_lines(entries: Sequence[Entry], balances: Mapping[str, int]) -> list[Line]:
    """Lines with a running balance per currency, starting from `balances`."""
    running = dict(balances)
    lines = []
    for entry in entries:
        running[entry.currency] = running.get(entry.currency, 0) + entry.amount_minor
        lines.append(
            Line(
                entry=entry,
                debit_minor=max(entry.amount_minor, 0),
                credit_minor=max(-entry.amount_minor, 0),
                balance_minor=running[entry.currency],
            )
        )
    return lines


Cursor = tuple[dt.date, int]


async def statement_totals(
    *, session: AsyncSession, account_id: str, start: dt.date, end: dt.date
) -> dict[str, Totals]:
    """Per currency: balance before `start`, debits and credits in the period, balance at `end`."""
    entries = LedgerEntryRow
    amount = entries.amount_minor
    in_period = entries.effective_date >= start

    def total(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(amount).filter(and_(*where)), 0)

    query = (
        select(
            entries.currency,
            total(entries.effective_date < start),
            total(in_period, amount > 0),
            total(in_period, amount < 0),
            func.sum(amount),
        )
        .where(entries.account_id == account_id, entries.effective_date <= end)
        .group_by(entries.currency)
    )
    return {
        currency: Totals(int(opening), int(debits), -int(credits), int(closing))
        for currency, opening, debits, credits, closing in await session.execute(query)
    }


async def balances_before(
    *, session: AsyncSession, account_id: str, after: Cursor
) -> dict[str, int]:
    """Per currency, the balance after the entry a page cursor points at."""
    entries = LedgerEntryRow
    query = (
        select(entries.currency, func.sum(entries.amount_minor))
        .where(
            entries.account_id == account_id,
            tuple_(entries.effective_date, entries.seq) <= tuple_(*after),
        )
        .group_by(entries.currency)
    )
    return {currency: int(total) for currency, total in await session.execute(query)}


async def statement_entries(
    *,
    session: AsyncSession,
    account_id: str,
    start: dt.date,
    end: dt.date,
    after: Cursor | None,
    limit: int | None,
) -> list[Entry]:
    """The account's ledger entries of the period in booking order, after a cursor."""
    entries = LedgerEntryRow
    query = (
        select(
            entries.seq,
            entries.effective_date,
            entries.kind,
            entries.currency,
            entries.amount_minor,
            entries.invoice_id,
            InvoiceRow.invoice_number,
            entries.source_id,
        )
        .outerjoin(InvoiceRow, InvoiceRow.id == entries.invoice_id)
        .where(
            entries.account_id == account_id,
            entries.effective_date >= start,
            entries.effective_date <= end,
        )
        .order_by(entries.effective_date, entries.seq)
        .limit(limit)
    )
    if after is not None:
        day, seq = after
        query = query.where(
            or_(
                entries.effective_date > day,
                and_(entries.effective_date == day, entries.seq > seq),
            )
        )
    return [Entry(*row) for row in await session.execute(query)]
