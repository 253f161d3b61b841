"""What the risk domain learns from the events, reduced to plain facts (dates as ordinals)."""

from __future__ import annotations

from dataclasses import dataclass

Allocations = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Registered:
    """The account exists, with its ERP id, credit limit and IANA time zone (its calendar)."""

    external_id: str | None
    currency: str
    credit_limit_minor: int | None
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Invoiced:
    """An invoice was issued."""

    invoice_id: str
    total_minor: int
    issue: int
    due: int


@dataclass(frozen=True, slots=True)
class Adjusted:
    """An invoice's total or due date changed; closed when cancelled or written off."""

    invoice_id: str
    total_minor: int
    due: int
    closed: bool
    on: int


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment was applied to invoices."""

    payment_id: str
    allocations: Allocations
    on: int


@dataclass(frozen=True, slots=True)
class Reversed:
    """A payment went back (bounce, chargeback): its allocations are undone."""

    reversal_id: str
    allocations: Allocations
    on: int


@dataclass(frozen=True, slots=True)
class Settled:
    """An invoice was paid in full, days_late after its due date."""

    invoice_id: str
    settled: int
    days_late: int


@dataclass(frozen=True, slots=True)
class Overdue:
    """Invoicing's overdue check: its date and the overdue invoices (id, due, balance)."""

    on: int
    invoices: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Disputed:
    """A dispute was opened."""

    dispute_id: str
    on: int


@dataclass(frozen=True, slots=True)
class DisputeClosed:
    """A dispute was resolved."""

    dispute_id: str
    on: int


@dataclass(frozen=True, slots=True)
class PromiseBroken:
    """A promise to pay was broken."""

    promise_id: str
    on: int


@dataclass(frozen=True, slots=True)
class PromiseKept:
    """A promise to pay was kept."""

    promise_id: str
    on: int


@dataclass(frozen=True, slots=True)
class InstallmentMissed:
    """An installment of a payment plan was missed."""

    key: str
    on: int


@dataclass(frozen=True, slots=True)
class HandedToAgency:
    """The account went to a collection agency."""

    on: int


@dataclass(frozen=True, slots=True)
class Signal:
    """An external signal (news, bureau, insolvency) or a credit-terms request."""

    signal_id: str
    kind: str
    severity: int
    on: int
    requested_days: int | None = None


Fact = (
    Registered
    | Invoiced
    | Adjusted
    | Paid
    | Reversed
    | Settled
    | Overdue
    | Disputed
    | DisputeClosed
    | PromiseBroken
    | PromiseKept
    | InstallmentMissed
    | HandedToAgency
    | Signal
)
