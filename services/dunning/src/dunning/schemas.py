"""HTTP request and response models (never the event models)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dunlin_events import UtcDatetime
from dunning.domain.policy import PolicyBody

IdStr = str
Actor = Field(min_length=1, max_length=200)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyCreate(_In):
    """A new policy (version 1) or a new version of an existing one."""

    policy_id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,99}$")
    body: PolicyBody
    created_by: str = Field(default="api", min_length=1, max_length=200)


class PolicyPublic(BaseModel):
    """One version of a policy."""

    policy_id: str
    version: int
    body: PolicyBody
    created_by: str
    built_in: bool = False


class AssignmentCreate(_In):
    """Assign a policy to every account with a tag or in a risk tier."""

    kind: Literal["tag", "tier"]
    value: str = Field(min_length=1, max_length=100)
    policy_id: str = Field(min_length=1, max_length=100)


class AccountPolicy(_In):
    """Assign a policy to one account directly (null: back to the rules)."""

    policy_id: str | None = Field(default=None, max_length=100)
    actor: str = Field(default="api", min_length=1, max_length=200)
    reason: str = Field(default="assigned", min_length=1, max_length=500)


class PromiseCreate(_In):
    """A promise to pay recorded by a collector or the customer."""

    amount: Decimal = Field(gt=0)
    promised_date: dt.date
    grace_days: int = Field(default=3, ge=0, le=60)
    invoice_ids: list[str] = Field(default_factory=list)
    channel: Literal["phone", "email", "portal", "letter", "other"] = "phone"
    recorded_by: str = Field(min_length=1, max_length=200)


class HoldCreate(_In):
    """A manual hold with reason and optional expiry."""

    reason: str = Field(min_length=1, max_length=500)
    until: UtcDatetime | None = Field(
        default=None, description="When the hold expires, with a UTC offset"
    )
    actor: str = Field(min_length=1, max_length=200)


class HoldLift(_In):
    """Lifting a hold early."""

    reason: str = Field(default="lifted", min_length=1, max_length=500)
    actor: str = Field(min_length=1, max_length=200)


class Override(_In):
    """A manual override: escalate to the next step now."""

    reason: str = Field(min_length=1, max_length=500)
    actor: str = Field(min_length=1, max_length=200)


class TaskComplete(_In):
    """The outcome of a collector's call."""

    outcome: Literal[
        "reached", "no_answer", "wrong_contact", "promise_to_pay", "dispute_raised", "call_back"
    ]
    note: str | None = Field(default=None, max_length=2000)
    completed_by: str = Field(min_length=1, max_length=200)
    call_back_at: UtcDatetime | None = Field(
        default=None, description="For call_back: when to call again, with a UTC offset"
    )
    promise: PromiseCreate | None = Field(default=None, description="For promise_to_pay")


class TaskPublic(BaseModel):
    """A collector task on the worklist."""

    task_id: str
    account_id: str
    case_id: str
    step_key: str
    status: str
    priority: float
    due_at: dt.datetime
    contact_id: str | None
    currency: str
    dunned_balance: Decimal
    invoice_ids: list[str]
    outcome: str | None
    note: str | None
    completed_by: str | None
    completed_at: dt.datetime | None


class CasePublic(BaseModel):
    """An account's case as it stands."""

    account_id: str
    case_id: str | None
    status: str
    paused: str | None
    policy_id: str
    policy_version: int
    currency: str
    outstanding: Decimal
    dunned_balance: Decimal
    next_action_at: dt.datetime | None
    steps: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    holds: list[dict[str, Any]]
    closed_cases: list[dict[str, Any]]


class TimelineEntry(BaseModel):
    """One thing that happened to an account, in time order."""

    at: dt.datetime
    kind: str
    summary: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPublic(BaseModel):
    """One immutable audit record."""

    id: int
    case_id: str | None
    action: str
    step_key: str | None
    actor: str
    reason: str | None
    at: dt.datetime
    detail: dict[str, Any]


class SweepResult(BaseModel):
    """What a sweep did."""

    cases: int
