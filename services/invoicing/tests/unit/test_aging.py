"""Aging thresholds, when an invoice next crosses one, and aging buckets."""

import datetime as dt

import pytest

from invoicing.domain.aging import (
    after_announcing,
    aging_mark,
    bucket_of,
    bucket_totals,
    crossed_threshold,
    earliest_due_dates,
    next_aging_at,
    sweep_mark,
)
from invoicing.domain.overdue import OverdueGroup, overdue_notice

DUE = dt.date(2025, 3, 31)


def day(n: int) -> dt.date:
    """The date n days after the due date."""
    return DUE + dt.timedelta(days=n)


@pytest.mark.parametrize(
    ("days", "threshold"),
    [(-3, 0), (0, 0), (1, 1), (30, 1), (31, 31), (60, 31), (61, 61), (90, 61), (91, 91), (400, 91)],
)
def test_the_threshold_reached_is_the_highest_at_or_below_the_days_overdue(days, threshold):
    assert crossed_threshold(days) == threshold


def test_a_new_invoice_is_first_due_for_aging_the_day_after_its_due_date():
    assert next_aging_at(DUE, day(-20), "open", 100) == day(1)


def test_an_invoice_issued_already_overdue_is_due_for_aging_at_once():
    assert next_aging_at(DUE, day(45), "open", 100) == day(1) <= day(45)


@pytest.mark.parametrize("status", ["paid", "cancelled", "written_off"])
def test_closed_invoices_are_never_aged(status):
    assert next_aging_at(DUE, day(5), status, 100) is None


def test_an_invoice_with_nothing_left_to_pay_is_never_aged():
    assert next_aging_at(DUE, day(5), "partially_paid", 0) is None


def test_a_partially_paid_invoice_keeps_the_thresholds_it_has_announced():
    assert next_aging_at(DUE, day(40), "partially_paid", 50, announced=31) == day(61)


def test_announcing_moves_to_the_next_threshold_after_the_highest_crossed():
    assert after_announcing(due_date=DUE, today=day(1)).next_at == day(31)
    assert after_announcing(due_date=DUE, today=day(45)).threshold == 31
    assert after_announcing(due_date=DUE, today=day(45)).next_at == day(61)
    assert after_announcing(due_date=DUE, today=day(91)).next_at is None


def test_a_later_due_date_forgets_thresholds_no_longer_reached():
    later_due = DUE + dt.timedelta(days=50)
    mark = aging_mark(
        due_date=later_due, today=day(45), status="open", balance_minor=10, announced=31
    )
    assert mark.threshold == 0
    assert mark.next_at == later_due + dt.timedelta(days=1)


def test_a_reopened_invoice_is_announced_again():
    closed = aging_mark(due_date=DUE, today=day(40), status="paid", balance_minor=0, announced=31)
    reopened = aging_mark(
        due_date=DUE, today=day(50), status="open", balance_minor=10, announced=closed.threshold
    )
    assert reopened.next_at == day(1)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-10, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"),
     (61, "61-90"), (90, "61-90"), (91, "90+"), (365, "90+")],
)  # fmt: skip
def test_buckets_count_days_past_the_due_date(days, bucket):
    assert bucket_of(DUE, day(days)) == bucket


def test_bucket_totals_add_counts_and_balances_and_keep_empty_buckets():
    as_of = dt.date(2025, 6, 30)
    totals = bucket_totals(
        [(dt.date(2025, 7, 10), 100), (dt.date(2025, 6, 20), 250), (dt.date(2025, 6, 1), 50),
         (dt.date(2025, 1, 1), 7)],
        as_of=as_of,
    )  # fmt: skip
    assert (totals["current"].count, totals["current"].balance_minor) == (1, 100)
    assert (totals["1-30"].count, totals["1-30"].balance_minor) == (2, 300)
    assert (totals["31-60"].count, totals["61-90"].count) == (0, 0)
    assert totals["90+"].balance_minor == 7


def owed(*items: tuple[str, dt.date, int]) -> OverdueGroup:
    """What an account owes past due, oldest first, as the sweep's query returns it."""
    return OverdueGroup(
        account_id="acc",
        currency="EUR",
        invoice_ids=[f"id-{number}" for number, _, _ in items],
        invoice_numbers=[number for number, _, _ in items],
        due_dates=[due for _, due, _ in items],
        undisputed_minor=[amount for _, _, amount in items],
        total_minor=sum(amount for _, _, amount in items),
    )


def test_the_notice_sums_undisputed_balances_and_ages_by_the_oldest_invoice():
    today = dt.date(2025, 5, 10)
    group = owed(("A", dt.date(2025, 4, 1), 200), ("B", dt.date(2025, 5, 1), 300))
    notice = overdue_notice(group, crossed=1, today=today)
    assert notice is not None
    assert notice.overdue_minor == 500
    assert notice.days_overdue == 39
    assert notice.oldest_due_date == dt.date(2025, 4, 1)
    assert notice.threshold_days == 1


def test_the_notice_never_claims_more_than_the_age_of_what_is_still_dunned():
    # The 61-day invoice was fully disputed, so the query left it out.
    notice = overdue_notice(
        owed(("B", dt.date(2025, 5, 1), 300)), crossed=61, today=dt.date(2025, 5, 10)
    )
    assert notice is not None
    assert notice.days_overdue == 9
    assert notice.threshold_days == 1
    assert notice.overdue_minor == 300


def test_no_notice_when_nothing_undisputed_is_overdue():
    assert overdue_notice(owed(), crossed=31, today=dt.date(2025, 5, 1)) is None


def test_the_sweep_announces_the_highest_threshold_newly_crossed():
    mark, crossed = sweep_mark(
        due_date=DUE, today=day(65), status="open", balance_minor=10, announced=1
    )
    assert crossed == 61
    assert mark.next_at == day(91)


def test_the_sweep_announces_nothing_twice():
    mark, crossed = sweep_mark(
        due_date=DUE, today=day(40), status="open", balance_minor=10, announced=31
    )
    assert crossed == 0
    assert mark.next_at == day(61)


def test_the_sweep_drops_an_invoice_paid_since_it_was_marked():
    mark, crossed = sweep_mark(
        due_date=DUE, today=day(40), status="paid", balance_minor=0, announced=1
    )
    assert (mark.next_at, crossed) == (None, 0)


def test_the_sql_form_of_the_buckets_agrees_with_bucket_of():
    as_of = dt.date(2025, 6, 30)
    bounds = earliest_due_dates(as_of)
    for back in range(-5, 130):
        due = as_of - dt.timedelta(days=back)
        expected = next((name for name, earliest in bounds if due >= earliest), "90+")
        assert bucket_of(due, as_of) == expected, back
