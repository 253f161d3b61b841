"""The overdue notice of one account and currency: which invoices, how much, how old."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from invoicing.domain.aging import crossed_threshold, days_overdue


@dataclass(frozen=True, slots=True)
class OverdueGroup:
    """What one account owes past due in one currency: open invoices past their due date with
    an undisputed balance (> 0), oldest first, as parallel sequences, and their sum.

    Disputed amounts are not dunned, so fully disputed invoices are not in it.
    """

    account_id: str
    currency: str
    invoice_ids: Sequence[str]
    invoice_numbers: Sequence[str]
    due_dates: Sequence[dt.date]
    undisputed_minor: Sequence[int]
    total_minor: int


@dataclass(frozen=True, slots=True)
class OverdueNotice:
    """What AccountOverdue carries for one account and currency."""

    overdue_minor: int
    days_overdue: int
    threshold_days: int
    oldest_due_date: dt.date
    group: OverdueGroup


def overdue_notice(group: OverdueGroup, *, crossed: int, today: dt.date) -> OverdueNotice | None:
    """The notice for an account's overdue invoices; None when nothing is owed or crossed.

    `crossed` is the highest threshold newly crossed by one of the account's invoices; the
    notice never claims more than the age of the oldest invoice still dunned.
    """
    if not group.invoice_ids or crossed < 1:
        return None
    oldest = group.due_dates[0]
    days = days_overdue(oldest, today)
    return OverdueNotice(
        overdue_minor=group.total_minor,
        days_overdue=days,
        threshold_days=crossed_threshold(min(crossed, days)),
        oldest_due_date=oldest,
        group=group,
    )
