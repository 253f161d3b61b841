"""Collections KPIs of one currency: pure math over ledger sums, no I/O.

Inputs (integer minor units of ONE currency, from `ledger_entries`):
- AR(d) = sum of `amount_minor` of entries with effective_date <= d (the open balance on d).
- B, beginning AR = AR(from - 1 day); E, ending AR = AR(to).
- Ec, ending current AR = the part of E on invoices not yet past due on `to` (due_date >= to).
- S, credit sales = net invoicing in [from, to]: entries of kind invoice, debit_note,
  credit_note, amendment and cancellation (payments, reversals, credit applied and
  write-offs are collections or losses, not sales).
- W, written off = minus the sum of write_off entries in [from, to].

Formulas:
- DSO (countback): start from E and walk back month by month from `to`; while AR remains,
  a month whose credit sales are below what remains adds all its days and its sales are
  subtracted; the month that exhausts the AR adds remaining / sales x its days.
- CEI = (B + S - E) / (B + S - Ec) x 100.
- AR turnover = S / ((B + E) / 2).
- Bad-debt write-off rate = W / S x 100.
A ratio whose denominator is zero (or negative for CEI) is None: undefined, not zero.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

SALES_KINDS = ("invoice", "debit_note", "credit_note", "amendment", "cancellation")
WRITE_OFF_KIND = "write_off"
COUNTBACK_MONTHS = 24
"""How far back the countback walks before it reports an incomplete DSO."""


@dataclass(frozen=True, slots=True)
class LedgerFigures:
    """The ledger sums of one currency that every KPI is computed from."""

    beginning_ar: int
    ending_ar: int
    ending_current_ar: int
    credit_sales: int
    written_off: int


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPIs of one currency over a period; None where a ratio is undefined."""

    dso_days: Decimal | None
    dso_complete: bool
    cei_percent: Decimal | None
    ar_turnover: Decimal | None
    write_off_rate_percent: Decimal | None
    average_ar_minor: Decimal


def _rounded(value: Fraction, places: int) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(quantum, ROUND_HALF_UP)


def _months_back(day: dt.date, months: int) -> dt.date:
    """`day` moved back whole months; month ends stay month ends, other days clamp."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    at_month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return dt.date(year, month + 1, last if at_month_end else min(day.day, last))


def month_windows(to: dt.date, count: int = COUNTBACK_MONTHS) -> list[tuple[dt.date, dt.date]]:
    """Consecutive month-long (first, last) day windows ending on `to`, newest first."""
    ends = [_months_back(to, k) for k in range(count + 1)]
    return [(ends[k + 1] + dt.timedelta(days=1), ends[k]) for k in range(count)]


def monthly_sales(
    daily_sales: Mapping[dt.date, int], windows: Sequence[tuple[dt.date, dt.date]]
) -> list[tuple[int, int]]:
    """(credit sales, days) of each window, from per-day sales."""
    result = []
    for first, last in windows:
        total = sum(amount for day, amount in daily_sales.items() if first <= day <= last)
        result.append((total, (last - first).days + 1))
    return result


def countback_dso(ending_ar: int, months: Sequence[tuple[int, int]]) -> tuple[Fraction, bool]:
    """DSO by countback over (sales, days) months newest first; False when AR outlived them."""
    remaining = Fraction(ending_ar)
    days = Fraction(0)
    for sales, month_days in months:
        if remaining <= 0:
            return days, True
        if sales > 0 and remaining <= sales:
            return days + remaining / sales * month_days, True
        days += month_days
        remaining -= sales
    return days, remaining <= 0


def kpis(figures: LedgerFigures, months: Sequence[tuple[int, int]]) -> Kpis:
    """Every KPI of one currency; see the module docstring for the formulas."""
    b, e = figures.beginning_ar, figures.ending_ar
    s, w = figures.credit_sales, figures.written_off
    dso, complete = countback_dso(e, months)
    collectible = b + s - figures.ending_current_ar
    average = Fraction(b + e, 2)
    return Kpis(
        dso_days=_rounded(dso, 1),
        dso_complete=complete,
        cei_percent=(
            _rounded(Fraction(b + s - e, collectible) * 100, 1) if collectible > 0 else None
        ),
        ar_turnover=_rounded(s / average, 2) if average > 0 else None,
        write_off_rate_percent=_rounded(Fraction(w, s) * 100, 2) if s > 0 else None,
        average_ar_minor=_rounded(average, 1),
    )
