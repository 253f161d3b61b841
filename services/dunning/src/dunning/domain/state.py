"""What dunning knows about one account: facts from events plus its own case progress."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

InvoiceStatus = Literal["open", "partially_paid", "paid", "cancelled", "written_off"]
PlanStatus = Literal["active", "off_track", "completed", "cancelled"]
PromiseStatus = Literal["open", "kept", "broken", "cancelled"]


class _Model(BaseModel):
    """Mutable, strict-enough base of the stored state."""

    model_config = {"validate_assignment": False}


class AccountInfo(_Model):
    """The latest AccountRegistered, as far as dunning needs it."""

    name: str = ""
    legal_name: str | None = None
    currency: str = ""
    time_zone: str = "UTC"
    locale: str = "en"
    tags: list[str] = Field(default_factory=list)
    policy_name: str | None = None
    contacts: list[dict[str, Any]] = Field(default_factory=list)
    as_of: dt.datetime | None = None


class InvoiceFacts(_Model):
    """One invoice: what invoicing said last, plus whether it was settled."""

    number: str = ""
    currency: str = ""
    total: int = 0
    due_date: dt.date | None = None
    issued_at: dt.datetime | None = None
    status: InvoiceStatus = "open"
    adjusted_at: dt.datetime | None = None
    settled_at: dt.datetime | None = None
    traceparent: str | None = None  # of the first InvoiceIssued seen: its steps join that trace


class AllocationFact(_Model):
    """Part of a payment applied to an invoice."""

    payment_id: str
    invoice_id: str
    amount: int
    on: dt.date


class DisputeFact(_Model):
    """A dispute; resolution wins whichever order the events came in."""

    invoice_id: str
    amount: int = 0
    reason: str = "other"
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    outcome: str | None = None


class PlanFact(_Model):
    """A payment plan: it holds the account while active."""

    invoice_ids: list[str] = Field(default_factory=list)
    status: PlanStatus = "active"
    at: dt.datetime | None = None


class PromiseFact(_Model):
    """A promise to pay recorded through the API or a collector's call."""

    amount: int
    promised_date: dt.date
    grace_days: int = 0
    invoice_ids: list[str] = Field(default_factory=list)
    channel: str = "other"
    recorded_by: str
    recorded_at: dt.datetime
    paid_baseline: int = 0
    status: PromiseStatus = "open"
    paid_amount: int = 0
    resolved_on: dt.date | None = None


class HoldFact(_Model):
    """A manual hold, with reason and optional expiry."""

    reason: str
    actor: str
    placed_at: dt.datetime
    until: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    ended_by: str | None = None


class ContactEntry(_Model):
    """A contact made or attempted, for the case file and timeline."""

    at: dt.datetime
    channel: str
    step_key: str | None = None
    status: str
    note: str | None = None
    notification_id: str | None = None


class StepRecord(_Model):
    """A step of the current case, executed or skipped."""

    index: int
    key: str
    outcome: Literal["executed", "skipped"]
    at: dt.datetime
    reason: str | None = None
    fee: int = 0


class Progress(_Model):
    """Dunning's own state of the account's current case."""

    cycle: int = 0
    status: Literal["idle", "open", "handed"] = "idle"
    case_id: str | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    opened_at: dt.datetime | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    repeats: int = 0
    last_contact_at: dt.datetime | None = None
    escalate_at: dt.datetime | None = None
    paused: str | None = None
    invoice_steps: dict[str, int] = Field(default_factory=dict)
    closed: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def last_index(self) -> int:
        """Index of the last step done in this case, -1 before the first."""
        return self.steps[-1].index if self.steps else -1


class AccountState(_Model):
    """Everything dunning keeps for one account, stored as one document."""

    account_id: str
    account: AccountInfo = Field(default_factory=AccountInfo)
    assigned_policy: str | None = None
    risk_tier: str | None = None
    risk_at: dt.datetime | None = None
    invoices: dict[str, InvoiceFacts] = Field(default_factory=dict)
    allocations: dict[str, AllocationFact] = Field(default_factory=dict)
    reversed_payments: dict[str, dt.date] = Field(default_factory=dict)
    disputes: dict[str, DisputeFact] = Field(default_factory=dict)
    plans: dict[str, PlanFact] = Field(default_factory=dict)
    promises: dict[str, PromiseFact] = Field(default_factory=dict)
    holds: dict[str, HoldFact] = Field(default_factory=dict)
    contacts: list[ContactEntry] = Field(default_factory=list)
    progress: Progress = Field(default_factory=Progress)
