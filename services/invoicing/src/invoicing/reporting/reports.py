"""Reports assembled from the queries and the pure math: what the API returns, in minor units."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.domain.aging import BUCKETS, Bucket, BucketTotal
from invoicing.reporting import queries
from invoicing.reporting.kpis import (
    COUNTBACK_MONTHS,
    Kpis,
    LedgerFigures,
    kpis,
    month_windows,
    monthly_sales,
)
from invoicing.reporting.queries import Scope


@dataclass(frozen=True, slots=True)
class AgingReport:
    """Buckets per currency on `as_of`; `source` says whether balances are today's or rebuilt."""

    as_of: dt.date
    source: str
    currencies: dict[str, dict[Bucket, BucketTotal]]


async def aging_report(
    *, session: AsyncSession, as_of: dt.date, today: dt.date, scope: Scope
) -> AgingReport:
    """Aging on `as_of`: today's balances from invoices, a past date's from the ledger."""
    if as_of >= today:
        totals, source = await queries.aging_now(session=session, as_of=as_of, scope=scope), "now"
    else:
        totals, source = await queries.aging_at(session=session, as_of=as_of, scope=scope), "ledger"
    filled = {
        currency: {name: buckets.get(name, BucketTotal()) for name in BUCKETS}
        for currency, buckets in sorted(totals.items())
    }
    return AgingReport(as_of=as_of, source=source, currencies=filled)


@dataclass(frozen=True, slots=True)
class CurrencyKpis:
    """The ledger figures of one currency and the KPIs computed from them."""

    currency: str
    figures: LedgerFigures
    kpis: Kpis


async def kpi_report(
    *, session: AsyncSession, start: dt.date, end: dt.date, scope: Scope
) -> list[CurrencyKpis]:
    """KPIs per currency for the period [start, end]."""
    figures = await queries.ledger_figures(session=session, start=start, end=end, scope=scope)
    windows = month_windows(end, COUNTBACK_MONTHS)
    sales = await queries.daily_sales(
        session=session, after=windows[-1][0] - dt.timedelta(days=1), to=end, scope=scope
    )
    return [
        CurrencyKpis(
            currency=currency,
            figures=figures[currency],
            kpis=kpis(figures[currency], monthly_sales(sales.get(currency, {}), windows)),
        )
        for currency in sorted(figures)
    ]
