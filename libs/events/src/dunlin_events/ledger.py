"""Ledger events published by invoicing on `invoicing.events`: adjustments, disputes, settlement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.money import Amount, Currency, NonNegativeAmount
from dunlin_events.parts import Id, check_scale

InvoiceStatus = Literal["open", "partially_paid", "paid", "cancelled", "written_off"]
AdjustmentKind = Literal["credit_note", "debit_note", "amendment", "cancellation", "write_off"]
DisputeReason = Literal[
    "pricing", "quantity", "quality", "not_received", "duplicate", "already_paid", "other"
]
DisputeOutcome = Literal["upheld", "rejected", "withdrawn"]


class InvoiceAdjusted(Event):
    """An invoice's amount, due date or status changed after it was issued.

    Credit and debit notes, ERP amendments (new due date, corrected amount), cancellation
    (void) and write-off. `amount_delta` is the signed effect on the balance; `total` is the
    invoice total afterwards (a write-off leaves it unchanged, a cancellation makes it 0).
    """

    event_name: ClassVar[str] = "InvoiceAdjusted"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    invoice_id: Id = Field(description="Dunlin invoice id")
    adjustment_id: Id = Field(description="Id of the credit note, amendment or action")
    kind: AdjustmentKind = Field(description="What kind of adjustment this is")
    currency: Currency = Field(description="Invoice currency (ISO 4217)")
    amount_delta: Amount = Field(
        description=(
            "Signed effect on the open balance: negative for credit notes, write-offs and "
            "cancellations, positive for debit notes; an amendment's change of the total"
        )
    )
    total: NonNegativeAmount = Field(description="Invoice total after the adjustment")
    balance: NonNegativeAmount = Field(description="Open balance after the adjustment")
    due_date: dt.date = Field(description="Due date after the adjustment")
    previous_due_date: dt.date | None = Field(
        default=None, description="Due date before, when the adjustment moved it"
    )
    status: InvoiceStatus = Field(description="Invoice status after the adjustment")
    reason: str | None = Field(default=None, max_length=500, description="Why, for the audit")
    effective_date: dt.date = Field(description="Accounting date of the adjustment")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(
            self.currency,
            {"amount_delta": self.amount_delta, "total": self.total, "balance": self.balance},
        )
        if self.balance > self.total:
            raise ValueError("balance must not exceed total")
        return self


class InvoiceDisputed(Event):
    """A customer disputed (part of) an invoice; the disputed amount is not dunned."""

    event_name: ClassVar[str] = "InvoiceDisputed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    dispute_id: Id = Field(description="Dunlin dispute id")
    invoice_id: Id = Field(description="Disputed invoice")
    currency: Currency = Field(description="Invoice currency (ISO 4217)")
    amount: NonNegativeAmount = Field(description="Disputed amount, > 0, at most the balance")
    reason: DisputeReason = Field(description="Reason code")
    contact_id: Id | None = Field(default=None, description="Contact who raised it")
    note: str | None = Field(default=None, max_length=2000, description="Free text")
    opened_at: UtcDatetime = Field(description="When the dispute was opened")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"amount": self.amount})
        if self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        return self


class DisputeResolved(Event):
    """A dispute ended: upheld (with a credit note), rejected, or withdrawn by the customer."""

    event_name: ClassVar[str] = "DisputeResolved"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    dispute_id: Id = Field(description="Dunlin dispute id")
    invoice_id: Id = Field(description="Disputed invoice")
    outcome: DisputeOutcome = Field(description="How the dispute ended")
    currency: Currency = Field(description="Invoice currency (ISO 4217)")
    credited_amount: NonNegativeAmount = Field(
        default=Decimal(0), description="Credit note amount when upheld, else 0"
    )
    credit_note_id: Id | None = Field(default=None, description="The credit note, if any")
    note: str | None = Field(default=None, max_length=2000, description="Resolution note")
    resolved_at: UtcDatetime = Field(description="When it was resolved")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"credited_amount": self.credited_amount})
        if (self.outcome == "upheld") != (self.credited_amount > 0):
            raise ValueError("an upheld dispute credits an amount > 0; others credit nothing")
        return self


class InvoiceSettled(Event):
    """An invoice's balance reached zero through payments (and credits)."""

    event_name: ClassVar[str] = "InvoiceSettled"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    invoice_id: Id = Field(description="Dunlin invoice id")
    invoice_number: str = Field(min_length=1, max_length=100, description="As printed")
    currency: Currency = Field(description="Invoice currency (ISO 4217)")
    total: NonNegativeAmount = Field(description="Invoice total after adjustments")
    paid_amount: NonNegativeAmount = Field(description="Sum of payments applied to it")
    due_date: dt.date = Field(description="Due date, to measure lateness")
    settled_on: dt.date = Field(description="Value date of the payment that settled it")
    days_late: int = Field(description="settled_on - due_date in days; <= 0 means on time")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"total": self.total, "paid_amount": self.paid_amount})
        return self


__all__ = [
    "AdjustmentKind",
    "DisputeOutcome",
    "DisputeReason",
    "DisputeResolved",
    "InvoiceAdjusted",
    "InvoiceDisputed",
    "InvoiceSettled",
    "InvoiceStatus",
]
