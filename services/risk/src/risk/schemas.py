"""HTTP schemas of the risk API (the event models are never reused here)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["low", "medium", "high", "critical"]
SignalKind = Literal[
    "negative_news",
    "bureau_downgrade",
    "bureau_upgrade",
    "insolvency_notice",
    "credit_terms_request",
    "other",
]


class SignalCreate(BaseModel):
    """An external signal or credit-terms request: the shape of ExternalSignalReported."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=100)
    signal_id: str = Field(min_length=1, max_length=100, description="The source's id (dedupe)")
    id_kind: Literal["dunlin", "external"] = "dunlin"
    kind: SignalKind
    source: str = Field(min_length=1, max_length=200)
    severity: int = Field(ge=1, le=5)
    observed_on: dt.date
    text: str | None = Field(default=None, max_length=4000)
    requested_terms_days: int | None = Field(default=None, ge=0, le=365)


class SignalAccepted(BaseModel):
    """What happened to a posted signal."""

    signal_id: str
    status: Literal["applied", "held", "duplicate"]
    account_id: str | None
    score: int | None = None
    tier: Tier | None = None


class ReasonPublic(BaseModel):
    """One signal's part in a score."""

    code: str
    label: str
    value: float
    weight: float
    contribution: float


class HistoryPublic(BaseModel):
    """A published assessment."""

    id: int
    score: int
    tier: Tier
    previous_score: int | None
    model_version: str
    as_of: dt.date
    assessed_at: dt.datetime
    reasons: list[ReasonPublic]


class RiskPublic(BaseModel):
    """An account's current score with its reasons, actions and latest history."""

    account_id: str
    registered: bool
    score: int | None
    tier: Tier | None
    reasons: list[ReasonPublic]
    recommended_actions: list[str]
    model_version: str | None
    scored_at: dt.datetime | None
    recommended_credit_limit_minor: int | None
    history: list[HistoryPublic]


class AccountScore(BaseModel):
    """One line of a portfolio list."""

    account_id: str
    score: int
    tier: Tier
    top_reason: str | None
    change: int | None = None


class PredictionPublic(BaseModel):
    """Predicted payment date of an invoice and, once paid, how far off it was."""

    invoice_id: str
    account_id: str
    issue_date: dt.date
    due_date: dt.date
    predicted_on: dt.date
    settled_on: dt.date | None
    error_days: int | None


class PredictionAccuracy(BaseModel):
    """How well predicted payment dates matched what happened."""

    settled: int
    mean_absolute_error_days: float | None
    bias_days: float | None
    within_3_days: float | None


class SignalPublic(BaseModel):
    """A stored external signal."""

    signal_id: str
    account_id: str | None
    external_account_id: str | None
    kind: str
    source: str
    severity: int
    observed_on: dt.date
    text: str | None
    requested_terms_days: int | None
    received_at: dt.datetime


class RescoreRequest(BaseModel):
    """Rescore every account, optionally as of a later date (signals decay, overdue ages)."""

    model_config = ConfigDict(extra="forbid")

    as_of: dt.date | None = None


class RescoreResult(BaseModel):
    """What a full rescoring did."""

    accounts: int
    published: int
    model_version: str


class ModelPublic(BaseModel):
    """A stored model version."""

    version: str
    kind: str
    trained_on: str
    active: bool
    created_at: dt.datetime
    activated_at: dt.datetime | None
    metrics: dict[str, object]
