"""Aging: thresholds an overdue invoice crosses, when it next crosses one, and aging buckets.

Dates are UTC calendar dates (the clock's date): an invoice due on D is 1 day overdue on D+1
everywhere, whatever the account's time zone, so aging and the sweep agree across replicas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from dunlin_events import AGING_THRESHOLDS

OPEN_STATUSES = ("open", "partially_paid")
"""Statuses with money still owed; every other status closes an invoice for aging."""

Bucket = Literal["current", "1-30", "31-60", "61-90", "90+"]
BUCKETS: tuple[Bucket, ...] = ("current", "1-30", "31-60", "61-90", "90+")
# Lowest days overdue of each bucket after "current", in BUCKETS order.
_BUCKET_FLOORS = (1, 31, 61, 91)


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    """Days past the due date (0 or negative while not yet overdue)."""
    return (today - due_date).days


def is_open(status: str, balance_minor: int) -> bool:
    """Whether the invoice still carries money owed."""
    return status in OPEN_STATUSES and balance_minor > 0


def crossed_threshold(days: int) -> int:
    """The highest aging threshold reached after `days` overdue (0 for none)."""
    reached = 0
    for threshold in AGING_THRESHOLDS:  # ascending; a loop is 3x a max() over a generator
        if threshold > days:
            break
        reached = threshold
    return reached


def _next_threshold(after: int) -> int | None:
    """The first aging threshold above `after`, None past the last."""
    for threshold in AGING_THRESHOLDS:
        if threshold > after:
            return threshold
    return None


@dataclass(frozen=True, slots=True)
class AgingMark:
    """What the sweep stores per invoice: the last threshold announced and when the next is."""

    threshold: int
    next_at: dt.date | None


def aging_mark(
    *,
    due_date: dt.date,
    today: dt.date,
    status: str,
    balance_minor: int,
    announced: int = 0,
) -> AgingMark:
    """The invoice's mark given the highest threshold already announced for it.

    Closed invoices drop out (threshold 0, no next date), so a re-opened invoice is
    announced again. A threshold announced but no longer reached (the due date moved later)
    is forgotten, so crossing it again is announced again.
    """
    if not is_open(status, balance_minor):
        return AgingMark(threshold=0, next_at=None)
    still = min(announced, crossed_threshold(days_overdue(due_date, today)))
    kept = crossed_threshold(still)
    pending = _next_threshold(kept)
    next_at = due_date + dt.timedelta(days=pending) if pending is not None else None
    return AgingMark(threshold=kept, next_at=next_at)


def next_aging_at(
    due_date: dt.date, today: dt.date, status: str, balance_minor: int, announced: int = 0
) -> dt.date | None:
    """Date the invoice next crosses an unannounced threshold; None when closed or past 91."""
    mark = aging_mark(
        due_date=due_date,
        today=today,
        status=status,
        balance_minor=balance_minor,
        announced=announced,
    )
    return mark.next_at


def after_announcing(*, due_date: dt.date, today: dt.date) -> AgingMark:
    """The mark after the sweep announced everything crossed by `today`."""
    reached = crossed_threshold(days_overdue(due_date, today))
    pending = _next_threshold(reached)
    next_at = due_date + dt.timedelta(days=pending) if pending is not None else None
    return AgingMark(threshold=reached, next_at=next_at)


def sweep_mark(
    *, due_date: dt.date, today: dt.date, status: str, balance_minor: int, announced: int
) -> tuple[AgingMark, int]:
    """What the sweep does with one due row: its new mark and the threshold newly crossed (0)."""
    reached = crossed_threshold(days_overdue(due_date, today))
    if is_open(status, balance_minor) and reached > announced:
        return after_announcing(due_date=due_date, today=today), reached
    mark = aging_mark(
        due_date=due_date,
        today=today,
        status=status,
        balance_minor=balance_minor,
        announced=announced,
    )
    return mark, 0


def bucket_of(due_date: dt.date, as_of: dt.date) -> Bucket:
    """The aging bucket of an open invoice on `as_of`, by days past its due date."""
    days = days_overdue(due_date, as_of)
    bucket: Bucket = "current"
    for name, floor in zip(BUCKETS[1:], _BUCKET_FLOORS, strict=True):
        if days >= floor:
            bucket = name
    return bucket


def earliest_due_dates(as_of: dt.date) -> Sequence[tuple[Bucket, dt.date]]:
    """Every bucket but 90+ with the earliest due date it holds on `as_of`, newest first.

    A due date belongs to the first bucket whose earliest date it is on or after (else 90+):
    the rule `bucket_of` applies, in a form a SQL CASE can use.
    """
    return [
        (name, as_of - dt.timedelta(days=next_floor - 1))
        for name, next_floor in zip(BUCKETS[:-1], _BUCKET_FLOORS, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class BucketTotal:
    """Count and open balance of one bucket, in one currency."""

    count: int = 0
    balance_minor: int = 0


def bucket_totals(
    invoices: Iterable[tuple[dt.date, int]], *, as_of: dt.date
) -> dict[Bucket, BucketTotal]:
    """Aggregate (due_date, balance) pairs of one currency into every bucket (empty ones too)."""
    totals = {name: BucketTotal() for name in BUCKETS}
    for due_date, balance in invoices:
        name = bucket_of(due_date, as_of)
        old = totals[name]
        totals[name] = BucketTotal(old.count + 1, old.balance_minor + balance)
    return totals
