"""Events published by the dunning service on `dunning.events`.

Dunning keeps one case per account. Its events say what it did (a step executed or
skipped, a message requested, a collector task, an agency hand-off), what it learned
(promises to pay, kept or broken) and when a case ends.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.money import Currency, NonNegativeAmount
from dunlin_events.parts import Contact, Id, Locale, Part, ShortText, TimeZoneName, check_scale

Channel = Literal["email", "sms", "letter", "voice", "phone", "agency"]
"""How a step reaches the customer. `phone` is a collector's call (a task), `voice` an
automated call through a provider, `agency` the hand-off of the case file."""

StepKey = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="Step key, e.g. firm_reminder")
]
TemplateKey = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$", description="Template key, e.g. reminder")
]
Actor = Annotated[
    str, Field(min_length=1, max_length=200, description="Who did it: user, api key or system")
]


class DunnedInvoice(Part):
    """One invoice a dunning step concerns, with its open (undisputed) balance."""

    invoice_id: Id = Field(description="Dunlin invoice id")
    invoice_number: Id = Field(description="Invoice number printed on the invoice")
    due_date: dt.date = Field(description="Due date")
    balance: NonNegativeAmount = Field(description="Dunned balance of the invoice")
    days_overdue: int = Field(description="Days past due on the step's date; negative = not due")


class Charge(Part):
    """A late-payment charge a step adds: a fee or statutory interest."""

    kind: Literal["fee", "interest", "compensation"] = Field(
        description="Flat/percentage fee, statutory interest, or fixed compensation"
    )
    description: ShortText = Field(description="What it is, e.g. 'Interest 12.5% p.a.'")
    amount: NonNegativeAmount = Field(description="Amount charged")
    invoice_id: Id | None = Field(default=None, description="Invoice it accrues on, if one")


def _check_invoices(
    currency: str, total: Decimal, invoices: list[DunnedInvoice], charges: list[Charge]
) -> None:
    amounts: dict[str, Decimal | None] = {"dunned_balance": total}
    amounts |= {f"invoices.{i}.balance": inv.balance for i, inv in enumerate(invoices)}
    amounts |= {f"charges.{i}.amount": c.amount for i, c in enumerate(charges)}
    check_scale(currency, amounts)
    if sum((inv.balance for inv in invoices), Decimal(0)) != total:
        raise ValueError("dunned_balance must equal the sum of the invoices' balance")
    ids = [inv.invoice_id for inv in invoices]
    if len(ids) != len(set(ids)):
        raise ValueError("invoices: invoice_id values must be unique")


class DunningStepExecuted(Event):
    """A step of the account's dunning case was executed, or recorded as skipped."""

    event_name: ClassVar[str] = "DunningStepExecuted"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    case_id: Id = Field(description="Dunning case id")
    policy_id: Id = Field(description="Policy the case follows")
    policy_version: int = Field(ge=1, description="Version of the policy used")
    step_key: StepKey
    step_index: int = Field(ge=0, description="0-based position of the step in the policy")
    outcome: Literal["executed", "skipped"] = Field(
        description="`skipped`: the account was already past it (e.g. found far overdue)"
    )
    reason: str | None = Field(default=None, max_length=500, description="Why, if skipped")
    channels: list[Channel] = Field(default_factory=list, description="Channels the step used")
    currency: Currency = Field(description="Currency of the balances")
    dunned_balance: NonNegativeAmount = Field(description="Balance dunned by this step")
    invoices: list[DunnedInvoice] = Field(default_factory=list, description="Invoices concerned")
    charges: list[Charge] = Field(default_factory=list, description="Charges the step added")
    executed_at: UtcDatetime = Field(description="When it was executed or skipped")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_invoices(self.currency, self.dunned_balance, self.invoices, self.charges)
        return self


class ContactRecord(Part):
    """One contact made (or attempted) with the customer, for the case file."""

    at: UtcDatetime = Field(description="When")
    channel: Channel
    step_key: StepKey | None = Field(default=None, description="Dunning step, if any")
    status: ShortText = Field(description="requested, sent, delivered, failed, reached, ...")
    note: str | None = Field(default=None, max_length=2000, description="Free text")


class PromiseSummary(Part):
    """A promise to pay, as it stands, for the case file."""

    promise_id: Id
    amount: NonNegativeAmount
    promised_date: dt.date
    status: Literal["open", "kept", "broken", "cancelled"]
    recorded_by: Actor


class DisputeSummary(Part):
    """A dispute on one of the account's invoices, for the case file."""

    dispute_id: Id
    invoice_id: Id
    amount: NonNegativeAmount
    reason: ShortText
    status: Literal["open", "resolved"]


class CaseFile(Part):
    """Everything an agency needs to take over an account."""

    account_name: ShortText = Field(description="Display name of the customer")
    legal_name: ShortText | None = Field(default=None, description="Registered legal name")
    currency: Currency
    total_due: NonNegativeAmount = Field(description="Balance handed over, charges included")
    invoices: list[DunnedInvoice] = Field(min_length=1, description="Invoices handed over")
    charges: list[Charge] = Field(default_factory=list, description="Fees and interest")
    contacts: list[Contact] = Field(default_factory=list, description="The customer's contacts")
    contact_history: list[ContactRecord] = Field(
        default_factory=list, description="Every dunning contact, oldest first"
    )
    promises: list[PromiseSummary] = Field(default_factory=list, description="Promises to pay")
    disputes: list[DisputeSummary] = Field(default_factory=list, description="Disputes")


class NotificationRequested(Event):
    """Dunning asks notifications to deliver one message for one account and step.

    One request lists every invoice the step concerns. `notification_id` is the
    idempotency key: notifications delivers at most once per id.
    """

    event_name: ClassVar[str] = "NotificationRequested"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    notification_id: Id = Field(description="Idempotency key of this message")
    case_id: Id = Field(description="Dunning case id")
    step_key: StepKey
    channel: Channel = Field(description="First channel to try")
    fallback_channels: list[Channel] = Field(
        default_factory=list, description="Channels to try in order if the first fails for good"
    )
    template_key: TemplateKey = Field(description="Template to render, per channel and locale")
    locale: Locale = Field(default="en", description="Language of the message")
    time_zone: TimeZoneName = Field(default="UTC", description="Recipient's zone (quiet hours)")
    not_before: UtcDatetime | None = Field(
        default=None, description="Do not send before this instant (business hours)"
    )
    account_name: ShortText = Field(description="Customer display name, for the salutation")
    recipient: Contact = Field(description="The contact addressed, with consent per channel")
    currency: Currency
    dunned_balance: NonNegativeAmount = Field(description="Sum of the invoices' balances")
    total_due: NonNegativeAmount = Field(description="dunned_balance plus the charges")
    invoices: list[DunnedInvoice] = Field(min_length=1, description="Invoices concerned")
    charges: list[Charge] = Field(default_factory=list, description="Fees and interest")
    pay_by: dt.date | None = Field(default=None, description="Deadline stated in the message")
    payment_link: str | None = Field(default=None, max_length=2000, description="Where to pay")
    reply_to: str | None = Field(default=None, max_length=254, description="Collector e-mail")
    case_file: CaseFile | None = Field(default=None, description="For the agency channel")
    requested_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_invoices(self.currency, self.dunned_balance, self.invoices, self.charges)
        check_scale(self.currency, {"total_due": self.total_due})
        if self.dunned_balance + sum((c.amount for c in self.charges), Decimal(0)) != (
            self.total_due
        ):
            raise ValueError("total_due must equal dunned_balance plus the charges")
        if self.channel in self.fallback_channels:
            raise ValueError("fallback_channels must not repeat the first channel")
        if self.channel == "agency" and self.case_file is None:
            raise ValueError("the agency channel needs a case_file")
        return self


TaskOutcome = Literal[
    "reached", "no_answer", "wrong_contact", "promise_to_pay", "dispute_raised", "call_back"
]


class CollectorTaskCreated(Event):
    """A phone step put a call on a collector's worklist."""

    event_name: ClassVar[str] = "CollectorTaskCreated"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    task_id: Id
    case_id: Id
    step_key: StepKey
    contact_id: Id | None = Field(default=None, description="Contact to call")
    priority: float = Field(ge=0, description="amount x risk x age; higher is called first")
    currency: Currency
    dunned_balance: NonNegativeAmount
    invoice_ids: list[Id] = Field(min_length=1)
    due_at: UtcDatetime = Field(description="When the call should be made")
    assignee: Actor | None = Field(default=None, description="Collector, if assigned")


class CollectorTaskCompleted(Event):
    """A collector recorded the outcome of a call task."""

    event_name: ClassVar[str] = "CollectorTaskCompleted"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    task_id: Id
    case_id: Id
    outcome: TaskOutcome
    note: str | None = Field(default=None, max_length=2000)
    call_back_at: UtcDatetime | None = Field(default=None, description="For call_back")
    completed_by: Actor
    completed_at: UtcDatetime


class PromiseToPayRecorded(Event):
    """The customer promised to pay an amount by a date; the case holds until date + grace."""

    event_name: ClassVar[str] = "PromiseToPayRecorded"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    promise_id: Id
    case_id: Id
    currency: Currency
    amount: NonNegativeAmount = Field(description="Amount promised, > 0")
    promised_date: dt.date
    grace_days: int = Field(ge=0, le=60)
    invoice_ids: list[Id] = Field(default_factory=list, description="Invoices it covers")
    channel: Literal["phone", "email", "portal", "letter", "other"] = Field(
        description="How the promise was made"
    )
    recorded_by: Actor
    recorded_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(self.currency, {"amount": self.amount})
        if self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        return self


class PromiseToPayKept(Event):
    """Payments covering a promise arrived by its date plus grace."""

    event_name: ClassVar[str] = "PromiseToPayKept"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    promise_id: Id
    case_id: Id
    currency: Currency
    amount: NonNegativeAmount
    paid_amount: NonNegativeAmount
    promised_date: dt.date
    kept_on: dt.date


class PromiseToPayBroken(Event):
    """A promise's date plus grace passed without the promised amount: escalation resumes."""

    event_name: ClassVar[str] = "PromiseToPayBroken"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    promise_id: Id
    case_id: Id
    currency: Currency
    amount: NonNegativeAmount
    paid_amount: NonNegativeAmount = Field(description="What arrived towards it")
    promised_date: dt.date
    broken_on: dt.date


class AccountHandedToAgency(Event):
    """The account was handed to a collection agency with its complete case file."""

    event_name: ClassVar[str] = "AccountHandedToAgency"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    handoff_id: Id
    case_id: Id
    agency: ShortText = Field(description="Agency the case went to")
    currency: Currency
    total_due: NonNegativeAmount
    case_file: CaseFile
    handed_at: UtcDatetime


class DunningCaseClosed(Event):
    """The account's dunning case ended."""

    event_name: ClassVar[str] = "DunningCaseClosed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    case_id: Id
    reason: Literal["paid", "credited", "written_off", "handed_to_agency", "cancelled"] = Field(
        description="Why the case ended"
    )
    last_step_key: StepKey | None = Field(default=None, description="Last step executed")
    closed_at: UtcDatetime


class DunningHoldChanged(Event):
    """A manual hold was placed on or lifted from the account's case (audit for risk/ops)."""

    event_name: ClassVar[str] = "DunningHoldChanged"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "dunning"

    case_id: Id
    hold_id: Id
    action: Literal["placed", "lifted", "expired"]
    reason: str = Field(min_length=1, max_length=500)
    until: UtcDatetime | None = Field(default=None, description="Expiry, if any")
    actor: Actor
    at: UtcDatetime


__all__ = [
    "AccountHandedToAgency",
    "CaseFile",
    "Channel",
    "Charge",
    "CollectorTaskCompleted",
    "CollectorTaskCreated",
    "ContactRecord",
    "DisputeSummary",
    "DunnedInvoice",
    "DunningCaseClosed",
    "DunningHoldChanged",
    "DunningStepExecuted",
    "NotificationRequested",
    "PromiseSummary",
    "PromiseToPayBroken",
    "PromiseToPayKept",
    "PromiseToPayRecorded",
    "TaskOutcome",
]
