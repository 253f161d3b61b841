"""KPI math on worked examples computed by hand."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from invoicing.reporting.kpis import (
    LedgerFigures,
    countback_dso,
    kpis,
    month_windows,
    monthly_sales,
)

# Q1 2025 of one currency (whole units for readability; the math is unit-free):
# AR on 31 Dec 100,000; credit sales Jan 60,000, Feb 50,000, Mar 40,000 (S = 150,000);
# AR on 31 Mar 120,000, of which 30,000 not yet due; 3,000 written off in the quarter.
Q1 = LedgerFigures(
    beginning_ar=100_000,
    ending_ar=120_000,
    ending_current_ar=30_000,
    credit_sales=150_000,
    written_off=3_000,
)
Q1_MONTHS = [(40_000, 31), (50_000, 28), (60_000, 31)]


def test_month_windows_end_on_month_ends_when_the_period_does():
    assert month_windows(dt.date(2025, 3, 31), 3) == [
        (dt.date(2025, 3, 1), dt.date(2025, 3, 31)),
        (dt.date(2025, 2, 1), dt.date(2025, 2, 28)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 31)),
    ]


def test_month_windows_mid_month_run_from_the_same_day_of_the_previous_month():
    assert month_windows(dt.date(2025, 3, 15), 2) == [
        (dt.date(2025, 2, 16), dt.date(2025, 3, 15)),
        (dt.date(2025, 1, 16), dt.date(2025, 2, 15)),
    ]


def test_monthly_sales_add_the_days_of_each_window():
    daily = {dt.date(2025, 3, 3): 10, dt.date(2025, 3, 31): 5, dt.date(2025, 2, 28): 7}
    windows = month_windows(dt.date(2025, 3, 31), 2)
    assert monthly_sales(daily, windows) == [(15, 31), (7, 28)]


def test_countback_walks_back_whole_months_then_a_fraction_of_the_last():
    # 120,000 - Mar 40,000 (31 d) - Feb 50,000 (28 d) = 30,000 left = half of Jan's 60,000:
    # 31 + 28 + 31 x 30,000 / 60,000 = 74.5 days.
    assert countback_dso(120_000, Q1_MONTHS) == (Fraction(149, 2), True)


def test_countback_within_the_latest_month():
    # 10,000 of March's 40,000 over 31 days = 7.75 days.
    assert countback_dso(10_000, Q1_MONTHS) == (Fraction(31, 4), True)


def test_countback_is_incomplete_when_ar_outlives_the_history():
    assert countback_dso(200_000, Q1_MONTHS) == (Fraction(90), False)


def test_countback_of_no_receivables_is_zero_days():
    assert countback_dso(0, Q1_MONTHS) == (Fraction(0), True)


def test_kpis_of_the_worked_quarter():
    result = kpis(Q1, Q1_MONTHS)
    assert result.dso_days == Decimal("74.5")
    assert result.dso_complete
    # CEI = (100,000 + 150,000 - 120,000) / (100,000 + 150,000 - 30,000) = 130/220 = 59.09 %
    assert result.cei_percent == Decimal("59.1")
    # turnover = 150,000 / ((100,000 + 120,000) / 2) = 150/110 = 1.3636...
    assert result.ar_turnover == Decimal("1.36")
    # write-off rate = 3,000 / 150,000 = 2 %
    assert result.write_off_rate_percent == Decimal("2.00")
    assert result.average_ar_minor == Decimal("110000.0")


def test_a_period_with_no_sales_and_no_receivables_has_undefined_ratios():
    empty = LedgerFigures(0, 0, 0, 0, 0)
    result = kpis(empty, [(0, 31)])
    assert result.cei_percent is None
    assert result.ar_turnover is None
    assert result.write_off_rate_percent is None
    assert result.dso_days == Decimal("0.0")


def test_perfect_collection_is_a_cei_of_100():
    # Everything collectible was collected: only the not-yet-due 5,000 remains.
    figures = LedgerFigures(
        beginning_ar=10_000, ending_ar=5_000, ending_current_ar=5_000, credit_sales=20_000,
        written_off=0,
    )  # fmt: skip
    assert kpis(figures, [(20_000, 31)]).cei_percent == Decimal("100.0")
