"""Dunning policies as data: steps, conditions, charges, contact rules, risk cadence."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Channel = Literal["email", "sms", "letter", "voice", "phone", "agency"]
ContactRole = Literal["accounts_payable", "finance_decision_maker"]
Tier = Literal["low", "medium", "high", "critical"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Conditions(_Frozen):
    """When a step applies; a step whose conditions fail is recorded as skipped."""

    min_balance: Decimal | None = Field(default=None, ge=0, description="Minimum dunned balance")
    risk_tiers: list[Tier] | None = Field(default=None, description="Only for these tiers")
    tags_any: list[str] | None = Field(default=None, description="Only if tagged with one")
    tags_none: list[str] | None = Field(default=None, description="Never if tagged with one")


class Fee(_Frozen):
    """A fee a step adds: flat in the account currency, or a percentage of the dunned balance."""

    kind: Literal["flat", "percent"]
    value: Decimal = Field(gt=0)


class Step(_Frozen):
    """One rung of the ladder."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    offset_days: int = Field(ge=-60, le=730, description="Days from the oldest unpaid due date")
    channels: list[Channel] = Field(min_length=1)
    template_key: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")
    contact_role: ContactRole = "accounts_payable"
    conditions: Conditions = Field(default_factory=Conditions)
    fee: Fee | None = None
    pay_within_days: int | None = Field(default=None, ge=0, le=90)


class Interest(_Frozen):
    """Statutory late-payment interest: EU 2011/7/EU or the UK Late Payment Act."""

    rule: Literal["eu", "uk"]
    reference_rate: Decimal = Field(ge=0, le=50, description="ECB reference or BoE base rate, %")


class Agency(_Frozen):
    """Who takes over and when an account is eligible."""

    name: str = Field(default="Default Collections Agency", min_length=1, max_length=200)
    min_balance: Decimal = Field(default=Decimal(100), ge=0)
    min_age_days: int = Field(default=60, ge=0)


class ContactRules(_Frozen):
    """When and how often the account may be contacted, in its own time zone."""

    business_start_hour: int = Field(default=9, ge=0, le=23)
    business_end_hour: int = Field(default=17, ge=1, le=24)
    business_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="0 = Monday")
    min_days_between_contacts: int = Field(default=2, ge=0, le=60)

    @model_validator(mode="after")
    def _window(self) -> ContactRules:
        if self.business_start_hour >= self.business_end_hour:
            raise ValueError("business_start_hour must be before business_end_hour")
        if not self.business_days or any(not 0 <= d <= 6 for d in self.business_days):
            raise ValueError("business_days must be weekdays 0..6, at least one")
        return self


class FinalReminder(_Frozen):
    """An endless reminder repeated after the last step until the account pays."""

    every_days: int = Field(ge=1, le=365)
    channels: list[Channel] = Field(default=["email"], min_length=1)
    template_key: str = "final_reminder"
    contact_role: ContactRole = "finance_decision_maker"


class PolicyBody(_Frozen):
    """A policy's content; stored with a version, never changed in place."""

    description: str = Field(default="", max_length=500)
    steps: list[Step] = Field(min_length=1)
    cadence: dict[Tier, Decimal] = Field(
        default_factory=dict, description="Factor on positive offsets per risk tier, e.g. 0.5"
    )
    interest: Interest | None = None
    agency: Agency = Field(default_factory=Agency)
    contact_rules: ContactRules = Field(default_factory=ContactRules)
    final_reminder: FinalReminder | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PolicyBody:
        offsets = [s.offset_days for s in self.steps]
        if offsets != sorted(offsets):
            raise ValueError("steps must be ordered by offset_days")
        keys = [s.key for s in self.steps]
        if len(keys) != len(set(keys)):
            raise ValueError("step keys must be unique")
        if any(f <= 0 or f > 3 for f in self.cadence.values()):
            raise ValueError("cadence factors must be in (0, 3]")
        return self


class Policy(_Frozen):
    """One version of a named policy."""

    policy_id: str
    version: int = Field(ge=1)
    body: PolicyBody

    def offsets(self, tier: str | None) -> list[int]:
        """Step offsets after the risk cadence: positive offsets scaled, order kept."""
        factor = self.body.cadence.get(tier) if tier else None  # type: ignore[call-overload]
        result: list[int] = []
        for step in self.body.steps:
            days = step.offset_days
            if factor is not None and days > 0:
                days = max(1, math.floor(days * factor))
            result.append(max(days, result[-1]) if result else days)
        return result


def _step(key: str, offset: int, channels: list[Channel], **kw: object) -> Step:
    return Step.model_validate(
        {"key": key, "offset_days": offset, "channels": channels, "template_key": key, **kw}
    )


DEFAULT_POLICY = PolicyBody(
    description="The default ladder of DESIGN §5",
    steps=[
        _step("courtesy", -3, ["email"]),
        _step("reminder", 1, ["email"], pay_within_days=7),
        _step("firm_reminder", 8, ["email", "sms"], pay_within_days=7),
        _step("call", 16, ["phone"]),
        _step("demand", 31, ["letter"], contact_role="finance_decision_maker", pay_within_days=10),
        _step(
            "final_notice",
            50,
            ["letter", "email"],
            contact_role="finance_decision_maker",
            pay_within_days=10,
        ),
        _step("agency", 61, ["agency"], contact_role="finance_decision_maker"),
    ],
    cadence={"high": Decimal("0.75"), "critical": Decimal("0.5")},
)

STRATEGIC_POLICY = PolicyBody(
    description="Gentler ladder for strategic accounts: later, no SMS, a call before any letter",
    steps=[
        _step("courtesy", -5, ["email"]),
        _step("reminder", 3, ["email"], pay_within_days=14),
        _step("call", 14, ["phone"]),
        _step("firm_reminder", 21, ["email"], contact_role="finance_decision_maker"),
        _step("demand", 45, ["letter"], contact_role="finance_decision_maker"),
        _step("final_notice", 75, ["letter", "email"], contact_role="finance_decision_maker"),
    ],
    contact_rules=ContactRules(min_days_between_contacts=5),
)

BUILT_IN: dict[str, PolicyBody] = {"default": DEFAULT_POLICY, "strategic": STRATEGIC_POLICY}
"""Policies every installation starts with (version 1 unless changed through the API)."""

BUILT_IN_TAG_ASSIGNMENTS = {"strategic": "strategic"}
