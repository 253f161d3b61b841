"""Events published by the payments service on `payments.events`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event
from dunlin_events.money import Currency, NonNegativeAmount
from dunlin_events.parts import Id, Part, check_scale

PaymentMethod = Literal["bank_transfer", "card", "direct_debit", "cheque", "other"]


class RemittanceLine(Part):
    """What the payer said a part of the payment is for."""

    invoice_id: Id = Field(description="Invoice the payer referred to (id or number as given)")
    amount: NonNegativeAmount = Field(description="Amount the payer assigned to it, > 0")


class Allocation(Part):
    """How Dunlin applied a part of the payment to an open invoice."""

    invoice_id: Id = Field(description="Dunlin invoice id the amount was applied to")
    amount: NonNegativeAmount = Field(description="Amount applied, > 0")


class PaymentReceived(Event):
    """Money arrived from a customer.

    On `erp.payments` payment_id and account_id are the source's own ids and allocations
    is empty; on `payments.events` they are Dunlin's ids and allocations say how the money
    was applied, with the rest in unapplied_amount.
    """

    event_name: ClassVar[str] = "PaymentReceived"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    payment_id: Id = Field(description="Payment id (Dunlin's; the source's on erp.payments)")
    external_id: Id | None = Field(
        default=None, description="The source's id (bank, PSP, ERP), used to drop duplicates"
    )
    amount: NonNegativeAmount = Field(description="Amount received, > 0, decimal string")
    currency: Currency = Field(description="Payment currency (ISO 4217)")
    method: PaymentMethod = Field(description="How the money was paid")
    received_on: dt.date = Field(description="Value date of the payment")
    reference: str | None = Field(
        default=None, max_length=500, description="Free-text reference the payer gave"
    )
    remittance: list[RemittanceLine] = Field(
        default_factory=list, description="What the payer said the payment covers"
    )
    allocations: list[Allocation] = Field(
        default_factory=list, description="How Dunlin applied it; empty on erp.payments"
    )
    unapplied_amount: NonNegativeAmount = Field(
        default=Decimal(0), description="Part not applied to any invoice (on account)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        amounts: dict[str, Decimal | None] = {
            "amount": self.amount,
            "unapplied_amount": self.unapplied_amount,
        }
        for i, line in enumerate(self.remittance):
            amounts[f"remittance.{i}.amount"] = line.amount
        for i, alloc in enumerate(self.allocations):
            amounts[f"allocations.{i}.amount"] = alloc.amount
        check_scale(self.currency, amounts)
        if self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        if any(a.amount <= 0 for a in self.allocations):
            raise ValueError("allocations: every amount must be greater than 0")
        if self.allocations and (
            sum(a.amount for a in self.allocations) + self.unapplied_amount != self.amount
        ):
            raise ValueError("allocations + unapplied_amount must equal amount")
        if not self.allocations and self.unapplied_amount > self.amount:
            raise ValueError("unapplied_amount must not exceed amount")
        return self


__all__ = ["Allocation", "PaymentMethod", "PaymentReceived", "RemittanceLine"]
