"""An account's ledger as payments sees it: open invoices, credits, and how money moves.

Invariants the functions keep: a payment's allocations plus its credit (general and
earmarked) equal its amount; no invoice balance goes below zero; no allocation exceeds the
balance it is applied to; and general credit never waits while an invoice has a balance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from payments.domain.allocation import AllocationRule, Open, spread


@dataclass(slots=True)
class InvoiceState:
    """An invoice of the account: invoicing's total, payments' own allocations."""

    id: str
    number: str
    due_date: dt.date
    seq: int
    total_minor: int
    external_id: str | None = None
    allocated_minor: int = 0
    closed: bool = False

    @property
    def balance_minor(self) -> int:
        """What is still open; an over-credited invoice is 0, never negative."""
        return 0 if self.closed else max(0, self.total_minor - self.allocated_minor)

    def matches(self, reference: str) -> bool:
        """True when a remittance reference names this invoice (Dunlin id, ERP id or number)."""
        return reference in (self.id, self.external_id, self.number)


@dataclass(slots=True)
class Credit:
    """Unapplied money of one payment: general credit and credit earmarked per reference."""

    payment_id: str
    seq: int
    general_minor: int = 0
    earmarks: dict[str, int] = field(default_factory=dict)

    @property
    def total_minor(self) -> int:
        """All of the payment's money that is not applied yet."""
        return self.general_minor + sum(self.earmarks.values())


@dataclass(frozen=True, slots=True)
class Applied:
    """Allocations one step made from one payment, and the credit that payment has left."""

    payment_id: str
    allocations: tuple[tuple[str, int], ...]
    unapplied_minor: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of a new payment."""

    allocations: tuple[tuple[str, int], ...]
    credit: Credit
    later: tuple[Applied, ...] = ()


@dataclass(slots=True)
class Ledger:
    """The account's invoices (the ones loaded) and every payment's unapplied credit."""

    rule: AllocationRule
    invoices: dict[str, InvoiceState] = field(default_factory=dict)
    credits: dict[str, Credit] = field(default_factory=dict)

    def find(self, reference: str) -> InvoiceState | None:
        """The invoice a remittance reference names: Dunlin id first, then ERP id, then number."""
        if reference in self.invoices:
            return self.invoices[reference]
        for attribute in ("external_id", "number"):
            for invoice in self.invoices.values():
                if getattr(invoice, attribute) == reference:
                    return invoice
        return None

    def open_items(self) -> list[Open]:
        """Invoices with a balance, as the allocation rules see them."""
        return [
            Open(i.id, i.due_date, i.seq, i.balance_minor)
            for i in self.invoices.values()
            if i.balance_minor > 0
        ]


class _Tally:
    """Collects the allocations of one step per payment, in order."""

    def __init__(self) -> None:
        self.by_payment: dict[str, dict[str, int]] = defaultdict(dict)

    def add(self, payment_id: str, invoice_id: str, amount: int) -> None:
        shares = self.by_payment[payment_id]
        shares[invoice_id] = shares.get(invoice_id, 0) + amount

    def applied(self, ledger: Ledger) -> tuple[Applied, ...]:
        return tuple(
            Applied(
                payment_id=payment_id,
                allocations=tuple(shares.items()),
                unapplied_minor=_credit_total(ledger, payment_id),
            )
            for payment_id, shares in self.by_payment.items()
            if shares
        )


def _credit_total(ledger: Ledger, payment_id: str) -> int:
    credit = ledger.credits.get(payment_id)
    return credit.total_minor if credit else 0


def _allocate(ledger: Ledger, tally: _Tally, payment_id: str, invoice_id: str, amount: int) -> None:
    invoice = ledger.invoices[invoice_id]
    assert 0 < amount <= invoice.balance_minor, "an allocation never exceeds the balance"
    invoice.allocated_minor += amount
    tally.add(payment_id, invoice_id, amount)


def _cap_lines(amount_minor: int, remittance: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The remittance lines cut to the payment amount, in order (independent of balances)."""
    capped: list[tuple[str, int]] = []
    left = amount_minor
    for reference, line_minor in remittance:
        take = min(max(line_minor, 0), left)
        if take > 0:
            capped.append((reference, take))
            left -= take
    return capped


def receive(
    ledger: Ledger,
    *,
    payment_id: str,
    seq: int,
    amount_minor: int,
    remittance: Sequence[tuple[str, int]] = (),
) -> Receipt:
    """Apply a new payment: remittance first, the rule for the rest, credit for what is left."""
    tally = _Tally()
    credit = Credit(payment_id=payment_id, seq=seq)
    pool = amount_minor
    for reference, take in _cap_lines(amount_minor, remittance):
        invoice = ledger.find(reference)
        if invoice is None:
            # Not known yet (topics are unordered): hold it for that invoice.
            credit.earmarks[reference] = credit.earmarks.get(reference, 0) + take
            pool -= take
            continue
        applied = min(take, invoice.balance_minor)
        if applied > 0:
            _allocate(ledger, tally, payment_id, invoice.id, applied)
            pool -= applied
    for invoice_id, share in spread(pool, ledger.open_items(), ledger.rule):
        _allocate(ledger, tally, payment_id, invoice_id, share)
        pool -= share
    credit.general_minor = pool
    if credit.total_minor > 0:
        ledger.credits[payment_id] = credit
    shares = tally.by_payment.get(payment_id, {})
    return Receipt(allocations=tuple(shares.items()), credit=credit)


def apply_credit(ledger: Ledger, tally: _Tally | None = None) -> tuple[Applied, ...]:
    """Use general credit, oldest payment first, on whatever has a balance, by the rule."""
    tally = tally or _Tally()
    for credit in sorted(ledger.credits.values(), key=lambda c: c.seq):
        if credit.general_minor <= 0:
            continue
        for invoice_id, share in spread(credit.general_minor, ledger.open_items(), ledger.rule):
            _allocate(ledger, tally, credit.payment_id, invoice_id, share)
            credit.general_minor -= share
    _drop_spent(ledger)
    return tally.applied(ledger)


def add_invoice(ledger: Ledger, invoice: InvoiceState) -> tuple[Applied, ...]:
    """A new invoice: credit earmarked for it first, then any general credit."""
    ledger.invoices[invoice.id] = invoice
    tally = _Tally()
    for credit in sorted(ledger.credits.values(), key=lambda c: c.seq):
        for reference in [r for r in credit.earmarks if invoice.matches(r)]:
            held = credit.earmarks.pop(reference)
            take = min(held, invoice.balance_minor)
            if take > 0:
                _allocate(ledger, tally, credit.payment_id, invoice.id, take)
            credit.general_minor += held - take
    return apply_credit(ledger, tally)


def adjust_invoice(
    ledger: Ledger, *, invoice_id: str, total_minor: int, closed: bool
) -> tuple[Applied, ...]:
    """Invoicing changed the total or closed the invoice; a larger balance draws on credit."""
    invoice = ledger.invoices[invoice_id]
    invoice.total_minor = total_minor
    invoice.closed = closed
    return apply_credit(ledger)


def reverse(
    ledger: Ledger, *, payment_id: str, allocations: Iterable[tuple[str, int]]
) -> tuple[Applied, ...]:
    """Undo every allocation of a payment, drop its credit, let other credit cover the gap."""
    for invoice_id, amount in allocations:
        ledger.invoices[invoice_id].allocated_minor -= amount
    ledger.credits.pop(payment_id, None)
    return apply_credit(ledger)


def _drop_spent(ledger: Ledger) -> None:
    for payment_id in [p for p, c in ledger.credits.items() if c.total_minor == 0]:
        del ledger.credits[payment_id]
