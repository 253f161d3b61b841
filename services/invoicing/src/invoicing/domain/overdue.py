"""The overdue notice of one account and currency: which invoices, how much, how old."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from invoicing.domain.aging import crossed_threshold, days_overdue


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """An open invoice past its due date, with the part of its balance not in dispute."""

    invoice_id: str
    invoice_number: str
    due_date: dt.date
    undisputed_minor: int


@dataclass(frozen=True, slots=True)
class OverdueNotice:
    """What AccountOverdue carries for one account and currency."""

    account_id: str
    currency: str
    overdue_minor: int
    days_overdue: int
    threshold_days: int
    oldest_due_date: dt.date
    items: tuple[OverdueItem, ...]


def overdue_notice(
    *,
    account_id: str,
    currency: str,
    items: Sequence[OverdueItem],
    crossed: int,
    today: dt.date,
) -> OverdueNotice | None:
    """The notice for the account's overdue invoices; None when nothing undisputed is owed.

    `crossed` is the highest threshold newly crossed by one of the account's invoices.
    Disputed amounts are not dunned, so fully disputed invoices are left out.
    """
    owed = sorted(
        (i for i in items if i.undisputed_minor > 0 and days_overdue(i.due_date, today) >= 1),
        key=lambda i: (i.due_date, i.invoice_number),
    )
    if not owed or crossed < 1:
        return None
    oldest = owed[0].due_date
    days = days_overdue(oldest, today)
    return OverdueNotice(
        account_id=account_id,
        currency=currency,
        overdue_minor=sum(i.undisputed_minor for i in owed),
        days_overdue=days,
        threshold_days=crossed_threshold(min(crossed, days)),
        oldest_due_date=oldest,
        items=tuple(owed),
    )
