"""Small fact builders for the pure tests."""

from __future__ import annotations

import datetime as dt
import itertools

from risk.domain import facts as f
from risk.domain.state import AccountState, apply

DAY0 = dt.date(2025, 1, 1).toordinal()
_ids = itertools.count()


def uid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def paid_invoice(issue: int, days_late: int, total: int = 100_000) -> list[f.Fact]:
    """An invoice issued on `issue`, due 30 days later, paid in full `days_late` after."""
    invoice_id = uid("inv")
    due = issue + 30
    paid = due + days_late
    return [
        f.Invoiced(invoice_id, total, issue, due),
        f.Paid(uid("pay"), ((invoice_id, total),), paid),
        f.Settled(invoice_id, paid, days_late),
    ]


def steady_history(months: int = 12, days_late: int = 0) -> list[f.Fact]:
    """A registered account ordering monthly and paying `days_late` after the due date."""
    history: list[f.Fact] = [f.Registered("ERP-1", "EUR", 1_000_000)]
    for month in range(months):
        history += paid_invoice(DAY0 + 30 * month, days_late)
    return history


def state_of(facts: list[f.Fact]) -> AccountState:
    state = AccountState()
    for fact in facts:
        apply(state, fact)
    return state
