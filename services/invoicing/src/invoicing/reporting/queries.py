"""Report queries: one set-based aggregate per figure, always grouped by currency."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Date,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from invoicing.db import AccountRow, InvoiceRow, LedgerEntryRow
from invoicing.domain.aging import OPEN_STATUSES, Bucket, BucketTotal, earliest_due_dates
from invoicing.reporting.kpis import SALES_KINDS, WRITE_OFF_KIND, LedgerFigures

T = TypeVar("T")
Column = QueryableAttribute[T] | ColumnElement[T]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which receivables a report covers: all, one currency, a tagged portfolio, one account."""

    currency: str | None = None
    tag: str | None = None
    account_id: str | None = None


def _scoped(
    account_id: Column[str], currency: Column[str], scope: Scope
) -> list[ColumnElement[bool]]:
    """WHERE clauses restricting rows with these account and currency columns to the scope."""
    where: list[ColumnElement[bool]] = []
    if scope.currency is not None:
        where.append(currency == scope.currency)
    if scope.account_id is not None:
        where.append(account_id == scope.account_id)
    if scope.tag is not None:
        tagged = AccountRow.tags.contains(cast([scope.tag], ARRAY(Text())))
        where.append(exists().where(AccountRow.id == account_id, tagged))
    return where


def _bucket(due_date: Column[dt.date], as_of: dt.date) -> ColumnElement[str]:
    """The aging bucket of a due date on `as_of`, in SQL (same rule as domain.aging)."""
    whens = [(due_date >= earliest, name) for name, earliest in earliest_due_dates(as_of)]
    return case(*whens, else_=literal("90+"))


AgingTotals = dict[str, dict[Bucket, BucketTotal]]


def _collect(rows: object) -> AgingTotals:
    totals: AgingTotals = defaultdict(dict)
    for currency, bucket, count, balance in rows:  # type: ignore[attr-defined]
        totals[currency][bucket] = BucketTotal(int(count), int(balance))
    return dict(totals)


def aging_now_query(as_of: dt.date, scope: Scope) -> Select[str, str, int, int]:
    """`aging_now`'s aggregate, apart so a migration test can EXPLAIN the real statement.

    Index-only over `ix_invoices_open_account_id_due_date` (it holds the open invoices and
    every column read here).
    """
    bucket = _bucket(InvoiceRow.due_date, as_of).label("bucket")
    return (
        select(InvoiceRow.currency, bucket, func.count(), func.sum(InvoiceRow.balance_minor))
        .where(
            InvoiceRow.status.in_(OPEN_STATUSES),
            InvoiceRow.balance_minor > 0,
            *_scoped(InvoiceRow.account_id, InvoiceRow.currency, scope),
        )
        .group_by(InvoiceRow.currency, bucket)
    )


async def aging_now(*, session: AsyncSession, as_of: dt.date, scope: Scope) -> AgingTotals:
    """Today's open balances aged on `as_of`: one index-only aggregate over open invoices."""
    return _collect(await session.execute(aging_now_query(as_of, scope)))


async def aging_at(*, session: AsyncSession, as_of: dt.date, scope: Scope) -> AgingTotals:
    """Balances on a past `as_of` rebuilt from the ledger, aged by the invoices' due dates."""
    entries = LedgerEntryRow
    balances = (
        select(
            entries.invoice_id.label("invoice_id"),
            entries.currency.label("currency"),
            func.sum(entries.amount_minor).label("balance"),
        )
        .where(
            entries.effective_date <= as_of,
            entries.invoice_id.is_not(None),
            *_scoped(entries.account_id, entries.currency, scope),
        )
        .group_by(entries.invoice_id, entries.currency)
        .having(func.sum(entries.amount_minor) > 0)
        .subquery()
    )
    bucket = _bucket(InvoiceRow.due_date, as_of).label("bucket")
    query = (
        select(balances.c.currency, bucket, func.count(), func.sum(balances.c.balance))
        .join_from(balances, InvoiceRow, InvoiceRow.id == balances.c.invoice_id)
        .group_by(balances.c.currency, bucket)
    )
    return _collect(await session.execute(query))


def _ledger_query(scope: Scope, to: dt.date) -> Select[Any]:
    entries = LedgerEntryRow
    return select(entries.currency).where(
        entries.effective_date <= to, *_scoped(entries.account_id, entries.currency, scope)
    )


async def ledger_figures(
    *, session: AsyncSession, start: dt.date, end: dt.date, scope: Scope
) -> dict[str, LedgerFigures]:
    """Per currency: AR before `start` and on `end`, current AR on `end`, sales, write-offs."""
    entries = LedgerEntryRow
    amount = entries.amount_minor
    in_period = entries.effective_date >= start

    def total(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(amount).filter(and_(*where)), 0)

    query = (
        _ledger_query(scope, end)
        .add_columns(
            total(entries.effective_date < start),
            func.sum(amount),
            total(InvoiceRow.due_date >= end),
            total(in_period, entries.kind.in_(SALES_KINDS)),
            -total(in_period, entries.kind == WRITE_OFF_KIND),
        )
        .outerjoin(InvoiceRow, InvoiceRow.id == entries.invoice_id)
        .group_by(entries.currency)
    )
    return {
        currency: LedgerFigures(int(b), int(e), int(ec), int(s), int(w))
        for currency, b, e, ec, s, w in await session.execute(query)
    }


async def daily_sales(
    *, session: AsyncSession, after: dt.date, to: dt.date, scope: Scope
) -> dict[str, dict[dt.date, int]]:
    """Per currency and day, the credit sales in (after, to] (for the countback)."""
    entries = LedgerEntryRow
    day = cast(entries.effective_date, Date)
    query = (
        _ledger_query(scope, to)
        .add_columns(day, func.sum(entries.amount_minor))
        .where(entries.effective_date > after, entries.kind.in_(SALES_KINDS))
        .group_by(entries.currency, day)
    )
    sales: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for currency, on, amount in await session.execute(query):
        sales[currency][on] = int(amount)
    return dict(sales)
