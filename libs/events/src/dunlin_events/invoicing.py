"""Events published by the invoicing service on `invoicing.events`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.decimals import Percent, Quantity
from dunlin_events.money import Amount, Currency, NonNegativeAmount
from dunlin_events.parts import (
    ChannelConsent,
    Contact,
    CountryCode,
    Id,
    Locale,
    Part,
    PaymentTerms,
    PostalAddress,
    ShortText,
    TimeZoneName,
    check_scale,
)

AGING_THRESHOLDS = (1, 31, 61, 91)
"""Days overdue at which AccountOverdue is emitted again (aging buckets 1-30, 31-60, ...)."""

Tag = Annotated[str, Field(min_length=1, max_length=50)]


class AccountRegistered(Event):
    """A customer account was created or re-registered with its terms and contacts."""

    event_name: ClassVar[str] = "AccountRegistered"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    external_id: Id | None = Field(default=None, description="The ERP's id of the account")
    name: ShortText = Field(description="Display name of the customer")
    legal_name: ShortText | None = Field(default=None, description="Registered legal name")
    currency: Currency = Field(description="Account currency (ISO 4217)")
    country: CountryCode | None = Field(default=None, description="ISO 3166-1 alpha-2")
    time_zone: TimeZoneName = Field(default="UTC", description="IANA zone for contact hours")
    locale: Locale = Field(default="en", description="BCP 47 language tag for messages")
    payment_terms: PaymentTerms = Field(description="Default terms for the account's invoices")
    credit_limit: NonNegativeAmount | None = Field(
        default=None, description="Credit limit in the account currency, as a decimal string"
    )
    tags: list[Tag] = Field(
        default_factory=list, description="Free tags, e.g. strategic, do_not_contact, legal"
    )
    parent_account_id: Id | None = Field(
        default=None, description="Parent account in a corporate group, if any"
    )
    dunning_policy: Id | None = Field(
        default=None, description="Name of the dunning policy; the default policy if absent"
    )
    contacts: list[Contact] = Field(default_factory=list, description="People to contact")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Fast paths (same outcome): no credit limit has no scale to check, and fewer than
        # two contacts cannot repeat a contact_id.
        if self.credit_limit is not None:
            check_scale(self.currency, {"credit_limit": self.credit_limit})
        if len(self.contacts) > 1:
            ids = [c.contact_id for c in self.contacts]
            if len(ids) != len(set(ids)):
                raise ValueError("contacts: contact_id values must be unique")
        return self


class InvoiceLine(Part):
    """One line of an invoice; discount lines may carry negative amounts."""

    description: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="What was sold"
    )
    quantity: Quantity = Field(description="Quantity, > 0, decimal string")
    unit_price: Amount = Field(description="Net price per unit, decimal string")
    tax_rate: Percent = Field(description="Tax rate in percent (19 = 19%), 0..100")
    net_amount: Amount = Field(description="Line amount before tax, as invoiced")
    tax_amount: Amount = Field(description="Tax on this line, as invoiced")

    @model_validator(mode="after")
    def _positive_quantity(self) -> Self:
        if self.quantity <= 0:
            raise ValueError("quantity must be greater than 0")
        return self


class EarlyPaymentDiscount(Part):
    """A discount for paying early: "2/10 net 30" is 2 percent within 10 days."""

    percent: Percent = Field(description="Discount in percent of the total, > 0")
    days: int = Field(ge=0, le=365, description="Days after the issue date it applies for")

    @model_validator(mode="after")
    def _positive_percent(self) -> Self:
        if self.percent <= 0:
            raise ValueError("percent must be greater than 0")
        return self


class InvoiceIssued(Event):
    """An invoice was issued to a customer account.

    On `erp.invoices` invoice_id and account_id are the ERP's own ids and due_date may be
    omitted (invoicing then computes it from the account's terms). On `invoicing.events`
    they are Dunlin's ids, due_date is always set, and the ERP ids travel in external_id
    and account_external_id.
    """

    event_name: ClassVar[str] = "InvoiceIssued"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    invoice_id: Id = Field(description="Invoice id (Dunlin's; the ERP's on erp.invoices)")
    external_id: Id | None = Field(default=None, description="The ERP's invoice id")
    account_external_id: Id | None = Field(default=None, description="The ERP's account id")
    invoice_number: Id = Field(description="Human-facing invoice number printed on the invoice")
    currency: Currency = Field(description="Invoice currency (ISO 4217)")
    issue_date: dt.date = Field(description="Issue date (ISO 8601)")
    due_date: dt.date | None = Field(
        default=None,
        description="Due date; always set on invoicing.events, may be omitted on erp.invoices",
    )
    lines: list[InvoiceLine] = Field(min_length=1, description="Invoice lines")
    subtotal: NonNegativeAmount = Field(description="Sum of the lines' net_amount")
    tax_total: NonNegativeAmount = Field(description="Sum of the lines' tax_amount")
    total: NonNegativeAmount = Field(description="subtotal + tax_total: the amount owed")
    early_payment_discount: EarlyPaymentDiscount | None = Field(
        default=None, description="Discount for early payment, if offered"
    )
    purchase_order: Id | None = Field(default=None, description="Customer's PO number")
    payment_terms: PaymentTerms | None = Field(
        default=None, description="Terms of this invoice if they differ from the account's"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        scaled: dict[str, Decimal | None] = {
            "subtotal": self.subtotal,
            "tax_total": self.tax_total,
            "total": self.total,
        }
        for i, line in enumerate(self.lines):
            scaled[f"lines.{i}.net_amount"] = line.net_amount
            scaled[f"lines.{i}.tax_amount"] = line.tax_amount
        check_scale(self.currency, scaled)
        if sum(line.net_amount for line in self.lines) != self.subtotal:
            raise ValueError("subtotal must equal the sum of the lines' net_amount")
        if sum(line.tax_amount for line in self.lines) != self.tax_total:
            raise ValueError("tax_total must equal the sum of the lines' tax_amount")
        if self.subtotal + self.tax_total != self.total:
            raise ValueError("total must equal subtotal + tax_total")
        if self.due_date is not None and self.due_date < self.issue_date:
            raise ValueError("due_date must not be before issue_date")
        return self


class OverdueInvoice(Part):
    """One unpaid invoice past its due date."""

    invoice_id: Id = Field(description="Dunlin invoice id")
    invoice_number: Id = Field(description="Invoice number printed on the invoice")
    due_date: dt.date = Field(description="Due date")
    balance: NonNegativeAmount = Field(description="Open balance of the invoice, > 0")
    days_overdue: int = Field(ge=1, description="Days past the due date")


class AccountOverdue(Event):
    """The account's oldest unpaid invoice passed its due date or crossed an aging threshold."""

    event_name: ClassVar[str] = "AccountOverdue"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "invoicing"

    currency: Currency = Field(description="Currency of the balances")
    overdue_balance: NonNegativeAmount = Field(description="Sum of the overdue balances, > 0")
    days_overdue: int = Field(ge=1, description="Days overdue of the oldest unpaid invoice")
    threshold_days: Literal[1, 31, 61, 91] = Field(
        description="The aging threshold just crossed (1, 31, 61 or 91 days)"
    )
    oldest_due_date: dt.date = Field(description="Due date of the oldest unpaid invoice")
    as_of: UtcDatetime = Field(description="When the check ran (UTC)")
    invoices: list[OverdueInvoice] = Field(min_length=1, description="The overdue invoices")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        balances = {f"invoices.{i}.balance": inv.balance for i, inv in enumerate(self.invoices)}
        check_scale(self.currency, {"overdue_balance": self.overdue_balance, **balances})
        if any(inv.balance <= 0 for inv in self.invoices) or self.overdue_balance <= 0:
            raise ValueError("overdue balances must be greater than 0")
        if sum(inv.balance for inv in self.invoices) != self.overdue_balance:
            raise ValueError("overdue_balance must equal the sum of the invoices' balance")
        if self.threshold_days > self.days_overdue:
            raise ValueError("threshold_days must not exceed days_overdue")
        if min(inv.due_date for inv in self.invoices) != self.oldest_due_date:
            raise ValueError("oldest_due_date must be the earliest invoice due_date")
        if max(inv.days_overdue for inv in self.invoices) != self.days_overdue:
            raise ValueError("days_overdue must be that of the oldest unpaid invoice")
        return self


__all__ = [
    "AGING_THRESHOLDS",
    "AccountOverdue",
    "AccountRegistered",
    "ChannelConsent",
    "Contact",
    "EarlyPaymentDiscount",
    "InvoiceIssued",
    "InvoiceLine",
    "OverdueInvoice",
    "PaymentTerms",
    "PostalAddress",
]
