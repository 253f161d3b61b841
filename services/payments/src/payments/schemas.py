"""HTTP request and response bodies; separate from the event contracts on purpose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dunlin_events import Currency, NonNegativeAmount
from payments.domain.allocation import AllocationRule

Id = Annotated[str, Field(min_length=1, max_length=100)]


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError("amount must be greater than 0")
    return amount


PositiveAmount = Annotated[NonNegativeAmount, AfterValidator(_positive)]
Method = Literal["bank_transfer", "card", "direct_debit", "cheque", "other"]
PlanStatus = Literal["active", "completed", "cancelled"]
ReversalReason = Literal["bounced", "chargeback", "recalled", "error", "other"]


class Schema(BaseModel):
    """Closed request/response model: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class RemittanceBody(Schema):
    """What the payer said part of the payment is for."""

    invoice: Id = Field(description="Dunlin invoice id, ERP invoice id or invoice number")
    amount: NonNegativeAmount


class PaymentCreate(Schema):
    """Record a payment received from a customer."""

    account_id: Id
    amount: PositiveAmount
    currency: Currency
    method: Method
    received_on: dt.date
    reference: str | None = Field(default=None, max_length=500)
    remittance: list[RemittanceBody] = Field(default_factory=list, max_length=1000)
    external_id: Id | None = Field(default=None, description="The source's id; unique")


class AllocationPublic(Schema):
    """Part of a payment applied to an invoice."""

    invoice_id: str
    amount: Decimal
    kind: Literal["receipt", "credit"]
    reversed: bool


class PaymentPublic(Schema):
    """A payment as the API shows it; amounts are decimal strings."""

    id: str
    account_id: str
    external_id: str | None
    source: str
    amount: Decimal
    currency: str
    method: str
    received_on: dt.date
    reference: str | None
    remittance: list[RemittanceBody]
    allocations: list[AllocationPublic]
    unapplied_amount: Decimal
    earmarked: dict[str, Decimal]
    status: Literal["received", "reversed"]
    reversal_reason: str | None
    reversed_on: dt.date | None
    reversal_source_id: str | None = Field(
        default=None, description="The source's return id when an ERP reported the return"
    )
    created_at: dt.datetime


class ReversalCreate(Schema):
    """Reverse a payment."""

    reason: ReversalReason
    reversed_on: dt.date


class InstallmentBody(Schema):
    """One installment of a proposed plan."""

    due_date: dt.date
    amount: NonNegativeAmount


class PlanCreate(Schema):
    """Agree a payment plan over open invoices of one account."""

    account_id: Id
    invoice_ids: list[Id] = Field(min_length=1, max_length=500)
    installments: list[InstallmentBody] = Field(min_length=1, max_length=120)
    total: NonNegativeAmount | None = Field(
        default=None, description="Defaults to the invoices' open balance"
    )
    currency: Currency | None = None
    agreed_by: str | None = Field(default=None, max_length=200)


class InstallmentPublic(Schema):
    """An installment with what is paid towards it."""

    number: int
    due_date: dt.date
    amount: Decimal
    paid_amount: Decimal
    status: Literal["paid", "partially_paid", "pending", "missed"]


class PlanPublic(Schema):
    """A payment plan and its installments."""

    id: str
    account_id: str
    currency: str
    invoice_ids: list[str]
    total: Decimal
    paid_amount: Decimal
    status: PlanStatus
    installments: list[InstallmentPublic]
    agreed_at: dt.datetime
    agreed_by: str | None
    completed_on: dt.date | None
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancellation_reason: str | None


class PlanCancel(Schema):
    """End an active plan early."""

    reason: str = Field(min_length=1, max_length=500)
    cancelled_by: str | None = Field(default=None, max_length=200)


class AllocationRuleBody(Schema):
    """The rule that allocates payments without (or beyond) remittance on this account."""

    rule: AllocationRule | None = Field(description="null falls back to the service default")


class SweepResult(Schema):
    """What one plan sweep reported."""

    missed_installments: int


class OpenInvoicePublic(Schema):
    """An invoice as payments sees it."""

    id: str
    invoice_number: str
    external_id: str | None
    due_date: dt.date
    total: Decimal
    balance: Decimal


class LedgerPublic(Schema):
    """An account's open invoices and unapplied credit, as payments sees them."""

    account_id: str
    external_id: str | None
    currency: str
    allocation_rule: AllocationRule
    open_invoices: list[OpenInvoicePublic]
    unapplied_credit: Decimal
    earmarked_credit: dict[str, Decimal]


PendingStatus = Literal["waiting", "recorded", "rejected"]


class HeldReturnPublic(Schema):
    """A return (PaymentReturned) that came while its payment was held; applied after it."""

    return_id: str
    reason: str
    returned_on: dt.date


class PendingPaymentPublic(Schema):
    """An ERP payment held because its account was not known when it arrived."""

    id: int
    source_id: str = Field(description="The source's id of the payment (dedupe key)")
    erp_account_id: str
    event_id: str = Field(description="ce_id of the erp.payments message")
    amount: Decimal
    currency: str
    method: str
    received_on: dt.date
    reference: str | None
    remittance: list[RemittanceBody]
    received_at: dt.datetime = Field(description="When payments held it")
    status: PendingStatus = Field(
        description="waiting for the account; recorded (see payment_id); rejected (see error)"
    )
    payment_id: str | None
    error: str | None
    resolved_at: dt.datetime | None
    returned: HeldReturnPublic | None = Field(
        default=None, description="A return of this payment that waits with it"
    )
