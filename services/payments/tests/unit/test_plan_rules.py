"""Payment plan rules: schedules, paying installments in order, misses, reopening."""

from __future__ import annotations

import datetime as dt

import pytest

from payments.domain.errors import InvalidPlan
from payments.domain.plans import (
    ScheduledInstallment,
    newly_missed,
    next_check,
    reopened,
    schedule,
    views,
)

D1, D2, D3 = dt.date(2025, 7, 1), dt.date(2025, 8, 1), dt.date(2025, 9, 1)


def plan() -> list[ScheduledInstallment]:
    return schedule([(D1, 100), (D2, 100), (D3, 100)], expected_total_minor=300)


def test_installments_must_add_up_to_the_plan_total():
    with pytest.raises(InvalidPlan, match="add up"):
        schedule([(D1, 100), (D2, 100)], expected_total_minor=300)


def test_installment_dates_must_not_go_backwards():
    with pytest.raises(InvalidPlan, match="backwards"):
        schedule([(D2, 100), (D1, 200)], expected_total_minor=300)


def test_no_installment_may_fall_due_before_the_plan_is_agreed():
    with pytest.raises(InvalidPlan, match="before the plan is agreed") as refused:
        schedule([(D1, 100), (D2, 200)], expected_total_minor=300, not_before=D2)
    assert refused.value.field == "installments[0].due_date"
    on_the_day = schedule([(D2, 100), (D3, 200)], expected_total_minor=300, not_before=D2)
    assert [x.due_date for x in on_the_day] == [D2, D3]


def test_payments_fill_installments_in_order():
    statuses = [v.status for v in views(plan(), paid_minor=150, missed=())]
    assert statuses == ["paid", "partially_paid", "pending"]


def test_an_installment_is_missed_only_after_its_due_date_and_grace():
    on_the_day = newly_missed(plan(), paid_minor=0, missed=(), today=D1, grace_days=0)
    next_day = newly_missed(
        plan(), paid_minor=0, missed=(), today=D1 + dt.timedelta(days=1), grace_days=0
    )
    in_grace = newly_missed(
        plan(), paid_minor=0, missed=(), today=D1 + dt.timedelta(days=1), grace_days=3
    )
    assert (on_the_day, in_grace) == ([], [])
    assert [v.installment.number for v in next_day] == [1]


def test_a_reported_miss_moves_the_next_check_to_the_following_installment():
    assert next_check(plan(), paid_minor=0, missed={1}) == D2
    assert next_check(plan(), paid_minor=300, missed=()) is None


def test_a_reversal_reopens_the_installments_it_had_paid():
    assert reopened(plan(), paid_before=300, paid_after=100) == [2, 3]
