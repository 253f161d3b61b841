"""The ledger of one invoice: balance rules and status transitions, in minor units; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from invoicing.domain.errors import DomainError, InvalidTransition

LedgerStatus = Literal["open", "partially_paid", "paid", "cancelled", "written_off"]
EntryKind = Literal[
    "invoice",
    "payment",
    "reversal",
    "credit_note",
    "debit_note",
    "write_off",
    "amendment",
    "cancellation",
    "credit_applied",
]
TERMINAL: frozenset[LedgerStatus] = frozenset({"cancelled", "written_off"})


@dataclass(frozen=True, slots=True)
class InvoiceLedger:
    """Money state of an invoice: balance = total - paid - written_off, never negative."""

    invoice_id: str
    total_minor: int
    paid_minor: int = 0
    written_off_minor: int = 0
    disputed_minor: int = 0
    status: LedgerStatus = "open"

    @property
    def balance_minor(self) -> int:
        """What the customer still owes."""
        return self.total_minor - self.paid_minor - self.written_off_minor

    @property
    def dunnable_minor(self) -> int:
        """The balance minus what is under open dispute."""
        return max(self.balance_minor - self.disputed_minor, 0)


@dataclass(frozen=True, slots=True)
class Change:
    """A rule's decision: the new state and the signed balance effect to record."""

    before: InvoiceLedger
    after: InvoiceLedger
    kind: EntryKind
    amount_minor: int

    @property
    def settled(self) -> bool:
        """The balance just reached zero by payment or credit."""
        return self.after.status == "paid" and self.before.status != "paid"


def _status(ledger: InvoiceLedger) -> LedgerStatus:
    if ledger.status in TERMINAL:
        return ledger.status
    if ledger.balance_minor == 0:
        return "paid"
    return "partially_paid" if ledger.paid_minor > 0 else "open"


def _change(before: InvoiceLedger, after: InvoiceLedger, kind: EntryKind) -> Change:
    after = replace(after, status=_status(after))
    assert after.balance_minor >= 0, "a balance is never negative"
    return Change(before, after, kind, after.balance_minor - before.balance_minor)


def _require_active(ledger: InvoiceLedger, action: str) -> None:
    if ledger.status in TERMINAL:
        raise InvalidTransition(
            f"cannot {action}: the invoice is {ledger.status}", status=ledger.status
        )


def _positive(amount_minor: int) -> None:
    if amount_minor <= 0:
        raise DomainError("amount must be greater than 0", field="amount")


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocation as applied: what reduced the balance and what could not (overpaid)."""

    change: Change | None
    applied_minor: int
    overpaid_minor: int


def allocate(ledger: InvoiceLedger, amount_minor: int) -> Allocation:
    """Apply a payment allocation; anything above the balance is an overpayment."""
    applicable = 0 if ledger.status in TERMINAL else min(amount_minor, ledger.balance_minor)
    if applicable == 0:
        return Allocation(None, 0, amount_minor)
    after = replace(ledger, paid_minor=ledger.paid_minor + applicable)
    return Allocation(_change(ledger, after, "payment"), applicable, amount_minor - applicable)


def reverse(ledger: InvoiceLedger, amount_minor: int) -> Change | None:
    """Undo applied payment money: the balance goes back up and the invoice reopens."""
    amount = min(amount_minor, ledger.paid_minor)
    if amount <= 0:
        return None
    status: LedgerStatus = "open" if ledger.status == "written_off" else ledger.status
    # A bounced payment on a written-off invoice makes that money collectable again.
    after = replace(ledger, paid_minor=ledger.paid_minor - amount, status=status)
    return _change(ledger, after, "reversal")


def credit_note(ledger: InvoiceLedger, amount_minor: int) -> Change:
    """Reduce total and balance; the total never drops below what has been paid."""
    _require_active(ledger, "credit")
    _positive(amount_minor)
    if amount_minor > ledger.balance_minor:
        raise InvalidTransition(
            "a credit note cannot exceed the open balance (the total never drops below"
            " what has been paid)",
            status=ledger.status,
        )
    after = replace(ledger, total_minor=ledger.total_minor - amount_minor)
    return _change(ledger, after, "credit_note")


def debit_note(ledger: InvoiceLedger, amount_minor: int) -> Change:
    """Increase total and balance (extra charge on the same invoice)."""
    _require_active(ledger, "debit")
    _positive(amount_minor)
    after = replace(ledger, total_minor=ledger.total_minor + amount_minor)
    return _change(ledger, after, "debit_note")


def amend(ledger: InvoiceLedger, new_total_minor: int) -> Change:
    """The ERP corrected the invoice total; it must stay at or above what has been paid."""
    _require_active(ledger, "amend")
    if new_total_minor < ledger.paid_minor + ledger.written_off_minor:
        raise InvalidTransition(
            "the amended total is below what has already been paid", status=ledger.status
        )
    after = replace(ledger, total_minor=new_total_minor)
    return _change(ledger, after, "amendment")


def cancel(ledger: InvoiceLedger) -> Change:
    """Void the invoice: only when nothing has been applied; total and balance go to 0."""
    _require_active(ledger, "cancel")
    if ledger.paid_minor > 0:
        raise InvalidTransition(
            "cannot cancel: payments are applied to the invoice", status=ledger.status
        )
    after = replace(ledger, total_minor=0, disputed_minor=0)
    change = _change(ledger, after, "cancellation")
    return replace(change, after=replace(change.after, status="cancelled"))


def write_off(ledger: InvoiceLedger) -> Change:
    """Write the remaining balance off as bad debt."""
    _require_active(ledger, "write off")
    if ledger.balance_minor == 0:
        raise InvalidTransition("nothing to write off: the balance is 0", status=ledger.status)
    after = replace(
        ledger,
        written_off_minor=ledger.written_off_minor + ledger.balance_minor,
        disputed_minor=0,
        status="written_off",
    )
    return Change(ledger, after, "write_off", -ledger.balance_minor)


def open_dispute(ledger: InvoiceLedger, amount_minor: int) -> InvoiceLedger:
    """Put part of the balance under dispute (not dunned until resolved)."""
    _require_active(ledger, "dispute")
    _positive(amount_minor)
    if amount_minor > ledger.balance_minor:
        raise DomainError("the disputed amount cannot exceed the open balance", field="amount")
    return replace(ledger, disputed_minor=ledger.disputed_minor + amount_minor)


def close_dispute(ledger: InvoiceLedger, amount_minor: int) -> InvoiceLedger:
    """A dispute ended: its amount is no longer excluded from dunning."""
    return replace(ledger, disputed_minor=max(ledger.disputed_minor - amount_minor, 0))
