"""Due dates follow the account's (or the invoice's) payment terms."""

import datetime as dt

import pytest

from invoicing.domain import Terms


@pytest.mark.parametrize(
    ("issued", "days", "due"),
    [
        (dt.date(2025, 1, 15), 30, dt.date(2025, 2, 14)),
        (dt.date(2025, 1, 15), 0, dt.date(2025, 1, 15)),
        (dt.date(2024, 12, 20), 14, dt.date(2025, 1, 3)),
    ],
)
def test_net_terms_add_days_to_the_issue_date(issued, days, due):
    assert Terms("net", days).due_date(issued) == due


@pytest.mark.parametrize(
    ("issued", "days", "due"),
    [
        (dt.date(2025, 1, 15), 30, dt.date(2025, 3, 2)),
        (dt.date(2024, 2, 10), 0, dt.date(2024, 2, 29)),  # leap year
        (dt.date(2025, 2, 10), 10, dt.date(2025, 3, 10)),
        (dt.date(2025, 12, 31), 15, dt.date(2026, 1, 15)),
    ],
)
def test_end_of_month_terms_count_from_the_last_day_of_the_issue_month(issued, days, due):
    assert Terms("end_of_month", days).due_date(issued) == due
