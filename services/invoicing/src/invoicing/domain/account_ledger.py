"""An account's ledger as a pure function of its facts, in whatever order the topics deliver."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from invoicing.domain import ledger as rules
from invoicing.domain.ledger import Change, InvoiceLedger

Key = tuple[str, str]  # (payment_id, invoice_ref)


@dataclass(frozen=True, slots=True)
class ReversalSplit:
    """Where reversed money comes from: a hold, an overpayment, or applied money."""

    from_held: int
    from_overpaid: int
    from_applied: int


def split_reversal(amount_minor: int, *, held: int, overpaid: int, applied: int) -> ReversalSplit:
    """Undo what never reached the invoice first (holds, overpayments), then applied money."""
    from_held = min(amount_minor, held)
    rest = amount_minor - from_held
    from_overpaid = min(rest, overpaid)
    from_applied = min(rest - from_overpaid, applied)
    return ReversalSplit(from_held, from_overpaid, from_applied)


@dataclass(frozen=True, slots=True)
class InvoiceKnown:
    """An invoice was issued (via REST or ERP) with this total."""

    invoice_id: str
    total_minor: int


@dataclass(frozen=True, slots=True)
class Allocated:
    """Payments applied part of a payment to an invoice (PaymentReceived/PaymentAllocated)."""

    payment_id: str
    invoice_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Reversed:
    """A payment's allocation to an invoice was undone (PaymentReversed)."""

    payment_id: str
    invoice_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit note reduced an invoice."""

    invoice_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """Part of an invoice was disputed."""

    dispute_id: str
    invoice_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class DisputeClosed:
    """A dispute ended, crediting `credit_minor` when upheld."""

    dispute_id: str
    credit_minor: int


Fact = InvoiceKnown | Allocated | Reversed | Credited | DisputeOpened | DisputeClosed


@dataclass
class AccountLedger:
    """Invoices, applications, holds and overpayments of one account."""

    invoices: dict[str, InvoiceLedger] = field(default_factory=dict)
    applied: dict[Key, int] = field(default_factory=dict)
    overpaid: dict[Key, int] = field(default_factory=dict)
    held: dict[Key, int] = field(default_factory=dict)
    disputes: dict[str, tuple[str, int, bool]] = field(default_factory=dict)
    entries: list[tuple[str, str, int]] = field(default_factory=list)

    def apply(self, fact: Fact) -> None:
        """Apply one fact."""
        match fact:
            case InvoiceKnown():
                self._known(fact)
            case Allocated():
                self._allocate(fact.payment_id, fact.invoice_id, fact.amount_minor)
            case Reversed():
                self._reverse(fact)
            case Credited():
                self._record(rules.credit_note(self.invoices[fact.invoice_id], fact.amount_minor))
            case DisputeOpened():
                invoice = self.invoices[fact.invoice_id]
                self.invoices[fact.invoice_id] = rules.open_dispute(invoice, fact.amount_minor)
                self.disputes[fact.dispute_id] = (fact.invoice_id, fact.amount_minor, True)
            case DisputeClosed():
                invoice_id, amount, _ = self.disputes[fact.dispute_id]
                closed = rules.close_dispute(self.invoices[invoice_id], amount)
                self.invoices[invoice_id] = closed
                self.disputes[fact.dispute_id] = (invoice_id, amount, False)
                if fact.credit_minor:
                    self._record(rules.credit_note(closed, fact.credit_minor))

    def _record(self, change: Change) -> None:
        self.invoices[change.after.invoice_id] = change.after
        self.entries.append((change.after.invoice_id, change.kind, change.amount_minor))

    def _known(self, fact: InvoiceKnown) -> None:
        self.invoices[fact.invoice_id] = InvoiceLedger(fact.invoice_id, fact.total_minor)
        self.entries.append((fact.invoice_id, "invoice", fact.total_minor))
        # The "invoice became known" hook: allocations that waited for it are applied now.
        for key in sorted(k for k in self.held if k[1] == fact.invoice_id):
            self._allocate(*key, self.held.pop(key))

    def _allocate(self, payment_id: str, invoice_id: str, amount: int) -> None:
        key = (payment_id, invoice_id)
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            self.held[key] = self.held.get(key, 0) + amount
            return
        outcome = rules.allocate(invoice, amount)
        if outcome.change is not None:
            self._record(outcome.change)
        self.applied[key] = self.applied.get(key, 0) + outcome.applied_minor
        self.overpaid[key] = self.overpaid.get(key, 0) + outcome.overpaid_minor

    def _reverse(self, fact: Reversed) -> None:
        key = (fact.payment_id, fact.invoice_id)
        split = split_reversal(
            fact.amount_minor,
            held=self.held.get(key, 0),
            overpaid=self.overpaid.get(key, 0),
            applied=self.applied.get(key, 0),
        )
        if split.from_held:
            self.held[key] -= split.from_held
            if not self.held[key]:
                del self.held[key]
        self.overpaid[key] = self.overpaid.get(key, 0) - split.from_overpaid
        if split.from_applied:
            self.applied[key] -= split.from_applied
            change = rules.reverse(self.invoices[fact.invoice_id], split.from_applied)
            if change is not None:
                self._record(change)


def replay(facts: Iterable[Fact]) -> AccountLedger:
    """The ledger the facts produce."""
    ledger = AccountLedger()
    for fact in facts:
        ledger.apply(fact)
    return ledger
