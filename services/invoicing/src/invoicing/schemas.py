"""HTTP request and response bodies; separate from the event contracts on purpose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dunlin_events import Amount, Currency, NonNegativeAmount
from dunlin_events.decimals import Percent, Quantity
from dunlin_events.parts import CountryCode, Email, Locale, PhoneNumber, TimeZoneName

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]


class Schema(BaseModel):
    """Closed request/response model: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PaymentTermsBody(Schema):
    """Net N days, or N days after the end of the issue month."""

    kind: Literal["net", "end_of_month"]
    days: int = Field(ge=0, le=365)


class ConsentBody(Schema):
    """Channels the contact agreed to."""

    email: bool = True
    sms: bool = False
    phone: bool = False
    letter: bool = True
    voice: bool = Field(default=False, description="Automated reminder calls (opt-in)")


class PostalAddressBody(Schema):
    """Where letters go."""

    lines: list[Text200] = Field(min_length=1, max_length=6)
    postal_code: str | None = Field(default=None, max_length=20)
    city: Text200
    country: CountryCode


class ContactBody(Schema):
    """A person at the customer; contact_id is generated when omitted."""

    contact_id: Id | None = None
    name: Text200
    role: Literal["accounts_payable", "finance_decision_maker", "other"]
    email: Email | None = None
    phone: PhoneNumber | None = None
    postal_address: PostalAddressBody | None = None
    consent: ConsentBody = Field(default_factory=ConsentBody)


class AccountCreate(Schema):
    """Register a customer account."""

    name: Text200
    legal_name: Text200 | None = None
    external_id: Id | None = Field(default=None, description="The ERP's id; unique")
    currency: Currency
    country: CountryCode | None = None
    time_zone: TimeZoneName = "UTC"
    locale: Locale = "en"
    payment_terms: PaymentTermsBody = Field(
        default_factory=lambda: PaymentTermsBody(kind="net", days=30)
    )
    credit_limit: NonNegativeAmount | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    parent_account_id: Id | None = None
    dunning_policy: Id | None = None
    contacts: list[ContactBody] = Field(default_factory=list, max_length=50)


class AccountUpdate(Schema):
    """A partial update: only the fields sent change; contacts are replaced as a whole."""

    name: Text200 | None = None
    legal_name: Text200 | None = None
    currency: Currency | None = Field(
        default=None, description="Only while the account has no invoices"
    )
    time_zone: TimeZoneName | None = None
    locale: Locale | None = None
    payment_terms: PaymentTermsBody | None = None
    credit_limit: NonNegativeAmount | None = Field(default=None, description="null removes it")
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_account_id: Id | None = Field(default=None, description="null detaches the account")
    dunning_policy: Id | None = None
    contacts: list[ContactBody] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        required = ("name", "currency", "time_zone", "locale", "payment_terms", "tags", "contacts")
        nulls = [f for f in required if f in self.model_fields_set and getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class AccountPublic(Schema):
    """A customer account as the API shows it."""

    id: str
    external_id: str | None
    name: str
    legal_name: str | None
    currency: str
    country: str | None
    time_zone: str
    locale: str
    payment_terms: PaymentTermsBody
    credit_limit: Decimal | None
    tags: list[str]
    parent_account_id: str | None
    dunning_policy: str | None
    contacts: list[ContactBody]
    created_at: dt.datetime


class LineCreate(Schema):
    """A line as entered; Dunlin computes its net and tax amounts."""

    description: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Quantity
    unit_price: Amount
    tax_rate: Percent

    @model_validator(mode="after")
    def _positive_quantity(self) -> Self:
        if self.quantity <= 0:
            raise ValueError("quantity must be greater than 0")
        return self


class DiscountBody(Schema):
    """Percent off when paid within `days` of the issue date."""

    percent: Percent
    days: int = Field(ge=0, le=365)


class InvoiceCreate(Schema):
    """Issue an invoice to an account."""

    account_id: Id
    invoice_number: Id
    external_id: Id | None = Field(default=None, description="The ERP's id; unique")
    currency: Currency
    issue_date: dt.date
    due_date: dt.date | None = Field(default=None, description="Computed from terms if absent")
    payment_terms: PaymentTermsBody | None = Field(
        default=None, description="This invoice's terms when they differ from the account's"
    )
    lines: list[LineCreate] = Field(min_length=1, max_length=1000)
    early_payment_discount: DiscountBody | None = None
    purchase_order: Id | None = None


class LinePublic(Schema):
    """A priced invoice line."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_amount: Decimal
    tax_amount: Decimal


class InvoicePublic(Schema):
    """An invoice as the API shows it; amounts are decimal strings."""

    id: str
    account_id: str
    invoice_number: str
    external_id: str | None
    currency: str
    issue_date: dt.date
    due_date: dt.date
    payment_terms: PaymentTermsBody
    status: str
    source: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    balance: Decimal
    lines: list[LinePublic]
    early_payment_discount: DiscountBody | None
    purchase_order: str | None
    created_at: dt.datetime


class InvoiceCounts(Schema):
    """How many invoices: open (or partially paid), overdue among them, and all."""

    open: int
    overdue: int
    total: int


class CurrencyBalancePublic(Schema):
    """Balances in one currency; amounts in different currencies are never added up."""

    currency: str
    open: Decimal
    overdue: Decimal
    disputed: Decimal
    unapplied_credit: Decimal
    invoices: InvoiceCounts


class AccountBalancePublic(Schema):
    """An account's balances, alone or rolled up over its descendants."""

    account_id: str
    include_children: bool
    accounts: int = Field(description="Accounts summed: 1, or the group's size")
    as_of: dt.date = Field(description="Overdue means due before this date")
    balances: list[CurrencyBalancePublic]
