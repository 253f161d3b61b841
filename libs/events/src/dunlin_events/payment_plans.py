"""Payment events beyond receipt, published by payments on `payments.events`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.money import Currency, NonNegativeAmount
from dunlin_events.parts import Id, Part, check_scale
from dunlin_events.payments import Allocation

ReversalReason = Literal["bounced", "chargeback", "recalled", "error", "other"]

ERP_PAYMENTS_TOPIC = "erp.payments"


class PaymentReversed(Event):
    """A payment bounced or was charged back: its allocations are undone, invoices reopen."""

    event_name: ClassVar[str] = "PaymentReversed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    payment_id: Id = Field(description="Dunlin payment id")
    reversal_id: Id = Field(description="Id of this reversal")
    currency: Currency = Field(description="Payment currency (ISO 4217)")
    amount: NonNegativeAmount = Field(description="Amount reversed (the whole payment)")
    reason: ReversalReason = Field(description="Why the money went back")
    reversed_on: dt.date = Field(description="Value date of the reversal")
    allocations: list[Allocation] = Field(
        default_factory=list, description="Allocations undone, per invoice"
    )
    unapplied_reversed: NonNegativeAmount = Field(
        default=Decimal(0), description="Unapplied credit that was withdrawn"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        amounts: dict[str, Decimal | None] = {"amount": self.amount}
        amounts |= {f"allocations.{i}.amount": a.amount for i, a in enumerate(self.allocations)}
        check_scale(self.currency, amounts)
        if sum(a.amount for a in self.allocations) + self.unapplied_reversed != self.amount:
            raise ValueError("allocations + unapplied_reversed must equal amount")
        return self


class PaymentReturned(Event):
    """The source system reports that a payment it sent came back (bounce, chargeback, recall).

    Published by an ERP or bank integration on `erp.payments`, keyed like its payments by the
    ERP's own account id. Payments reverses the whole payment (`PaymentReversed`); a partial
    return is refused (dead-lettered with the reason) because Dunlin reverses whole payments.
    """

    event_name: ClassVar[str] = "PaymentReturned"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "erp"

    payment_id: Id = Field(
        description=(
            "The source's id of the returned payment: the `external_id` it sent with"
            " PaymentReceived (its `payment_id` when it sent none)"
        )
    )
    return_id: Id = Field(description="The source's id of this return (a re-send is ignored)")
    currency: Currency = Field(description="Payment currency (ISO 4217)")
    amount: NonNegativeAmount = Field(description="Amount returned: the whole payment")
    reason: ReversalReason = Field(description="Why the money went back")
    returned_on: dt.date = Field(description="Value date of the return")

    @classmethod
    def topic(cls) -> str:
        """ERP integrations publish it inbound; no Dunlin service produces it."""
        return ERP_PAYMENTS_TOPIC

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"amount": self.amount})
        if self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        return self


class PaymentAllocated(Event):
    """Unapplied credit of an earlier payment was applied to invoices (e.g. a new invoice)."""

    event_name: ClassVar[str] = "PaymentAllocated"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    payment_id: Id = Field(description="Dunlin payment id whose credit was used")
    currency: Currency = Field(description="Payment currency (ISO 4217)")
    allocations: list[Allocation] = Field(min_length=1, description="New allocations")
    unapplied_amount: NonNegativeAmount = Field(description="Credit left on account after this")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        amounts: dict[str, Decimal | None] = {"unapplied_amount": self.unapplied_amount}
        amounts |= {f"allocations.{i}.amount": a.amount for i, a in enumerate(self.allocations)}
        check_scale(self.currency, amounts)
        if any(a.amount <= 0 for a in self.allocations):
            raise ValueError("allocations: every amount must be greater than 0")
        return self


class Installment(Part):
    """One agreed installment of a payment plan."""

    number: int = Field(ge=1, description="1-based position in the schedule")
    due_date: dt.date = Field(description="Date the installment is due")
    amount: NonNegativeAmount = Field(description="Amount due, > 0")


class PaymentPlanAgreed(Event):
    """The customer agreed to pay a set of invoices by an installment schedule."""

    event_name: ClassVar[str] = "PaymentPlanAgreed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    plan_id: Id = Field(description="Dunlin payment plan id")
    currency: Currency = Field(description="Plan currency (ISO 4217)")
    invoice_ids: list[Id] = Field(min_length=1, description="Invoices the plan covers")
    total: NonNegativeAmount = Field(description="Sum of the installments")
    installments: list[Installment] = Field(min_length=1, description="The schedule")
    agreed_at: UtcDatetime = Field(description="When it was agreed")
    agreed_by: str | None = Field(default=None, max_length=200, description="Who agreed it")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        amounts: dict[str, Decimal | None] = {"total": self.total}
        amounts |= {f"installments.{i}.amount": x.amount for i, x in enumerate(self.installments)}
        check_scale(self.currency, amounts)
        if sum(x.amount for x in self.installments) != self.total:
            raise ValueError("installments must add up to total")
        if [x.number for x in self.installments] != list(range(1, len(self.installments) + 1)):
            raise ValueError("installments must be numbered 1..n in order")
        dates = [x.due_date for x in self.installments]
        if dates != sorted(dates):
            raise ValueError("installment due dates must not go backwards")
        return self


class InstallmentMissed(Event):
    """An installment's date passed without it being paid in full: the plan is off track."""

    event_name: ClassVar[str] = "InstallmentMissed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    plan_id: Id = Field(description="Dunlin payment plan id")
    installment_number: int = Field(ge=1, description="Which installment")
    due_date: dt.date = Field(description="When it was due")
    currency: Currency = Field(description="Plan currency (ISO 4217)")
    amount_due: NonNegativeAmount = Field(description="Installment amount")
    amount_paid: NonNegativeAmount = Field(description="What was paid towards it")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"amount_due": self.amount_due, "amount_paid": self.amount_paid})
        if self.amount_paid >= self.amount_due:
            raise ValueError("a missed installment was not paid in full")
        return self


class PaymentPlanCompleted(Event):
    """Every installment of a plan was paid."""

    event_name: ClassVar[str] = "PaymentPlanCompleted"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    plan_id: Id = Field(description="Dunlin payment plan id")
    currency: Currency = Field(description="Plan currency (ISO 4217)")
    total_paid: NonNegativeAmount = Field(description="Paid towards the plan")
    completed_on: dt.date = Field(description="Value date of the last payment")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"total_paid": self.total_paid})
        return self


class PaymentPlanCancelled(Event):
    """A plan ended before it was paid: its invoices are no longer held by it."""

    event_name: ClassVar[str] = "PaymentPlanCancelled"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "payments"

    plan_id: Id = Field(description="Dunlin payment plan id")
    currency: Currency = Field(description="Plan currency (ISO 4217)")
    total_paid: NonNegativeAmount = Field(description="Paid towards the plan before it ended")
    reason: str = Field(min_length=1, max_length=500, description="Why, for the audit")
    cancelled_by: str | None = Field(default=None, max_length=200, description="Who ended it")
    cancelled_at: UtcDatetime = Field(description="When it was cancelled")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"total_paid": self.total_paid})
        return self


__all__ = [
    "ERP_PAYMENTS_TOPIC",
    "Installment",
    "InstallmentMissed",
    "PaymentAllocated",
    "PaymentPlanAgreed",
    "PaymentPlanCancelled",
    "PaymentPlanCompleted",
    "PaymentReturned",
    "PaymentReversed",
    "ReversalReason",
]
