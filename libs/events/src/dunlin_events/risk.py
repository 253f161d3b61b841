"""Events of the risk service: scores on `risk.events`, external signals on `risk.signals`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.money import Currency, NonNegativeAmount
from dunlin_events.parts import Id, Part, check_scale

RISK_SIGNALS_TOPIC = "risk.signals"

RiskTier = Literal["low", "medium", "high", "critical"]
RecommendedAction = Literal[
    "lower_credit_limit",
    "require_collateral",
    "require_prepayment",
    "contact_more_often",
    "offer_early_payment_discount",
    "review_account",
]
ReasonCode = Annotated[
    str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,49}$", description="Reason code, e.g. LATE_TREND")
]


class ScoreReason(Part):
    """One signal's part in a score: what it measured and how many points it added."""

    code: ReasonCode
    label: str = Field(min_length=1, max_length=200, description="What it means, for people")
    value: float = Field(description="The signal's measured value")
    weight: float = Field(description="Weight of the signal in the model")
    contribution: float = Field(description="Points it adds to the score (may be negative)")


class RiskAssessed(Event):
    """The account's risk score changed tier or moved materially."""

    event_name: ClassVar[str] = "RiskAssessed"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "risk"

    score: int = Field(ge=0, le=100, description="0 = no risk, 100 = certain trouble")
    tier: RiskTier
    previous_score: int | None = Field(default=None, ge=0, le=100)
    previous_tier: RiskTier | None = None
    reasons: list[ScoreReason] = Field(default_factory=list, description="Biggest first")
    recommended_actions: list[RecommendedAction] = Field(default_factory=list)
    model_version: str = Field(min_length=1, max_length=100, description="Model that scored")
    assessed_at: UtcDatetime


class CreditLimitRecommended(Event):
    """Risk recommends a new credit limit for the account."""

    event_name: ClassVar[str] = "CreditLimitRecommended"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "risk"

    currency: Currency
    current_limit: NonNegativeAmount | None = Field(default=None)
    recommended_limit: NonNegativeAmount
    tier: RiskTier
    reason: str = Field(min_length=1, max_length=500)
    recommended_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_scale(
            self.currency,
            {"current_limit": self.current_limit, "recommended_limit": self.recommended_limit},
        )
        return self


SignalKind = Literal[
    "negative_news",
    "bureau_downgrade",
    "bureau_upgrade",
    "insolvency_notice",
    "credit_terms_request",
    "other",
]


class ExternalSignalReported(Event):
    """A signal from outside the ledger: news, a bureau, an insolvency register or the ERP.

    Published on `risk.signals` by integrations. account_id is Dunlin's account id, or
    the ERP's own id when `id_kind` is `external`.
    """

    event_name: ClassVar[str] = "ExternalSignalReported"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "external"

    signal_id: Id = Field(description="The source's id of the signal (deduplication)")
    id_kind: Literal["dunlin", "external"] = Field(
        default="dunlin", description="Whether account_id is Dunlin's or the ERP's id"
    )
    kind: SignalKind
    source: str = Field(min_length=1, max_length=200, description="e.g. creditreform, news")
    severity: int = Field(ge=1, le=5, description="1 = minor, 5 = severe")
    observed_on: dt.date = Field(description="Date of the signal")
    text: str | None = Field(default=None, max_length=4000, description="Headline or note")
    requested_terms_days: int | None = Field(
        default=None, ge=0, le=365, description="For credit_terms_request: days asked for"
    )

    @classmethod
    def topic(cls) -> str:
        return RISK_SIGNALS_TOPIC


__all__ = [
    "RISK_SIGNALS_TOPIC",
    "CreditLimitRecommended",
    "ExternalSignalReported",
    "ReasonCode",
    "RecommendedAction",
    "RiskAssessed",
    "RiskTier",
    "ScoreReason",
    "SignalKind",
]
