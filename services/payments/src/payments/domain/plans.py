"""Payment plans: schedule rules, which installments a paid amount covers, what is missed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from payments.domain.errors import InvalidPlan

InstallmentStatus = Literal["paid", "partially_paid", "pending", "missed"]
MAX_INSTALLMENTS = 120


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    """One agreed installment."""

    number: int
    due_date: dt.date
    amount_minor: int


@dataclass(frozen=True, slots=True)
class InstallmentView:
    """An installment with what has been paid towards it."""

    installment: ScheduledInstallment
    paid_minor: int
    status: InstallmentStatus


def schedule(
    drafts: Sequence[tuple[dt.date, int]],
    *,
    expected_total_minor: int,
    not_before: dt.date | None = None,
) -> list[ScheduledInstallment]:
    """Number the installments and check they are positive, in order, add up and, given the
    day the plan is agreed (`not_before`), that none falls due before it (missed at once)."""
    if not drafts:
        raise InvalidPlan("a plan needs at least one installment", field="installments")
    if len(drafts) > MAX_INSTALLMENTS:
        raise InvalidPlan(f"at most {MAX_INSTALLMENTS} installments", field="installments")
    for i, (due, amount) in enumerate(drafts):
        if amount <= 0:
            raise InvalidPlan("every installment amount must be > 0", field=f"installments[{i}]")
        if not_before is not None and due < not_before:
            raise InvalidPlan(
                f"installment {i + 1} is due on {due}, before the plan is agreed ({not_before}"
                " where the customer is): it would be missed at once",
                field=f"installments[{i}].due_date",
            )
    dates = [due for due, _ in drafts]
    if dates != sorted(dates):
        raise InvalidPlan("installment due dates must not go backwards", field="installments")
    total = sum(amount for _, amount in drafts)
    if total != expected_total_minor:
        raise InvalidPlan(
            f"installments add up to {total} minor units, the plan covers {expected_total_minor}",
            field="installments",
        )
    return [
        ScheduledInstallment(number=i, due_date=due, amount_minor=amount)
        for i, (due, amount) in enumerate(drafts, start=1)
    ]


def fill(installments: Sequence[ScheduledInstallment], paid_minor: int) -> list[int]:
    """How much of each installment a paid amount covers, in order."""
    paid: list[int] = []
    left = paid_minor
    for installment in installments:
        take = min(left, installment.amount_minor)
        paid.append(take)
        left -= take
    return paid


def views(
    installments: Sequence[ScheduledInstallment], *, paid_minor: int, missed: Collection[int]
) -> list[InstallmentView]:
    """Each installment with its paid amount and status."""
    result: list[InstallmentView] = []
    for installment, paid in zip(installments, fill(installments, paid_minor), strict=True):
        status: InstallmentStatus
        if paid >= installment.amount_minor:
            status = "paid"
        elif installment.number in missed:
            status = "missed"
        else:
            status = "partially_paid" if paid > 0 else "pending"
        result.append(InstallmentView(installment, paid, status))
    return result


def next_check(
    installments: Sequence[ScheduledInstallment], *, paid_minor: int, missed: Collection[int]
) -> dt.date | None:
    """The due date the sweep must look at next: the first unpaid installment not yet missed."""
    for view in views(installments, paid_minor=paid_minor, missed=missed):
        if view.status in ("pending", "partially_paid"):
            return view.installment.due_date
    return None


def newly_missed(
    installments: Sequence[ScheduledInstallment],
    *,
    paid_minor: int,
    missed: Collection[int],
    today: dt.date,
    grace_days: int,
) -> list[InstallmentView]:
    """Installments whose due date (plus grace) has passed unpaid and were not reported yet."""
    cutoff = today - dt.timedelta(days=grace_days)
    return [
        view
        for view in views(installments, paid_minor=paid_minor, missed=missed)
        if view.status in ("pending", "partially_paid") and view.installment.due_date < cutoff
    ]


def reopened(
    installments: Sequence[ScheduledInstallment], *, paid_before: int, paid_after: int
) -> list[int]:
    """Numbers of installments that were paid in full before and are not any more."""
    before = fill(installments, paid_before)
    after = fill(installments, paid_after)
    return [
        installment.number
        for installment, b, a in zip(installments, before, after, strict=True)
        if b >= installment.amount_minor > a
    ]
