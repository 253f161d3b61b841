"""The dunned balance: open invoices less payments and open disputes, per invoice."""

from __future__ import annotations

import datetime as dt
from typing import Final, NamedTuple

from dunning.domain.build import new_tuple
from dunning.domain.state import AccountState

_OPEN = ("open", "partially_paid")


class Line(NamedTuple):
    """One open invoice with what is owed on it and what of that is dunned.

    A named tuple, immutable like a frozen dataclass and made in two thirds less time (whose
    `__init__` sets each field through `object.__setattr__`): one per open invoice per case.
    """

    invoice_id: str
    number: str
    due_date: dt.date
    outstanding: int
    disputed: int
    planned: bool = False  # under an active payment plan: owed, but not dunned

    @property
    def dunned(self) -> int:
        """Outstanding less the open disputes on it (nothing while a plan covers it)."""
        return 0 if self.planned else max(0, self.outstanding - self.disputed)


class Balances:
    """The account's open lines (oldest first) and totals, in one currency.

    Made once per evaluated case and never changed; a plain class (compiled with the sweep's
    hot modules: its attributes are slots there, read without a dictionary lookup) whose
    derived totals are computed on first use.
    """

    def __init__(
        self,
        currency: str,
        lines: tuple[Line, ...],
        paid_total: int,
        paid_by_invoice: dict[str, int] | None = None,
    ) -> None:
        self.currency: Final = currency
        self.lines: Final = lines
        self.paid_total: Final = paid_total
        self.paid_by_invoice: Final = {} if paid_by_invoice is None else paid_by_invoice
        self._outstanding: int | None = None
        self._dunned_lines: tuple[Line, ...] | None = None
        self._dunned: int | None = None

    def __repr__(self) -> str:
        return (
            f"Balances(currency={self.currency!r}, lines={self.lines!r},"
            f" paid_total={self.paid_total!r}, paid_by_invoice={self.paid_by_invoice!r})"
        )

    @property
    def outstanding(self) -> int:
        """Everything still owed, disputed or not."""
        if self._outstanding is None:
            self._outstanding = sum(line.outstanding for line in self.lines)
        return self._outstanding

    @property
    def dunned_lines(self) -> tuple[Line, ...]:
        """Lines with a dunned balance, oldest first."""
        if self._dunned_lines is None:
            self._dunned_lines = tuple(line for line in self.lines if line.dunned > 0)
        return self._dunned_lines

    @property
    def dunned(self) -> int:
        """Sum of the dunned balances."""
        if self._dunned is None:
            self._dunned = sum(line.dunned for line in self.lines)
        return self._dunned


def balances(state: AccountState) -> Balances:
    """Compute the balances from the facts; a pure function of the state."""
    # Plain dictionaries read with .get: a defaultdict's missing key costs a call of its
    # __missing__ and of int() (and paid_by_invoice was its copy), for every open invoice.
    paid: dict[str, int] = {}
    reversed_on: set[str] = set()
    paid_total = 0
    for alloc in state.allocations.values():
        if alloc.payment_id in state.reversed_payments:
            reversed_on.add(alloc.invoice_id)
            continue
        paid[alloc.invoice_id] = paid.get(alloc.invoice_id, 0) + alloc.amount
        paid_total += alloc.amount
    disputed: dict[str, int] = {}
    for dispute in state.disputes.values():
        if dispute.resolved_at is None:
            disputed[dispute.invoice_id] = disputed.get(dispute.invoice_id, 0) + dispute.amount
    planned = {
        invoice_id
        for plan in state.plans.values()
        if plan.status == "active"
        for invoice_id in plan.invoice_ids
    }
    currency = state.account.currency or next(
        (inv.currency for inv in state.invoices.values() if inv.currency), "EUR"
    )
    lines: list[Line] = []
    for invoice_id, inv in state.invoices.items():
        if inv.due_date is None or inv.issued_at is None or inv.status not in _OPEN:
            continue
        if inv.currency != currency:
            continue
        outstanding = max(0, inv.total - paid.get(invoice_id, 0))
        if inv.settled_at is not None and invoice_id not in reversed_on:
            outstanding = 0
        if outstanding > 0:
            line = (
                invoice_id,
                inv.number,
                inv.due_date,
                outstanding,
                disputed.get(invoice_id, 0),
                invoice_id in planned,
            )
            lines.append(new_tuple(Line, line))
    if len(lines) > 1:
        lines.sort(key=lambda line: (line.due_date, line.invoice_id))
    return Balances(
        currency=currency, lines=tuple(lines), paid_total=paid_total, paid_by_invoice=paid
    )


def paid_towards(b: Balances, invoice_ids: list[str]) -> int:
    """Paid so far on the named invoices, or on the whole account when none are named."""
    if not invoice_ids:
        return b.paid_total
    return sum(b.paid_by_invoice.get(i, 0) for i in set(invoice_ids))


def settled(b: Balances, invoice_ids: list[str]) -> bool:
    """Nothing is owed any more on the named invoices (or on the account when none named)."""
    if not invoice_ids:
        return b.outstanding == 0
    named = set(invoice_ids)
    return not any(line.invoice_id in named for line in b.lines)
