"""Tables of the risk schema: accounts with their features and score, history, signals, models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables

SCHEMA = "risk"


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema."""

    metadata = service_metadata(SCHEMA)


class AccountRow(Base):
    """One account: its signal state, current score and what was last published.

    The state is the service's own JSON (AccountState.to_json) kept as text: it is only ever
    read and written whole by the service, and jsonb would parse and print it every time.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_riskiest", text("score DESC"), "account_id"),
        Index("ix_accounts_external_id", "external_id"),
    )

    account_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    registered: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(Text)
    score: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    actions: Mapped[list[str]] = mapped_column(JSONB)
    model_version: Mapped[str | None] = mapped_column(String(100))
    published_score: Mapped[int | None] = mapped_column(Integer)
    published_tier: Mapped[str | None] = mapped_column(String(10))
    recommended_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ScoreHistoryRow(Base):
    """A published assessment, with the signal values it saw (training data for models)."""

    __tablename__ = "score_history"
    __table_args__ = (Index("ix_score_history_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(10))
    previous_score: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    measures: Mapped[dict[str, float]] = mapped_column(JSONB)
    model_version: Mapped[str] = mapped_column(String(100))
    as_of: Mapped[dt.date] = mapped_column(Date)
    assessed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SignalRow(Base):
    """An external signal; account_id is null while its ERP account is unknown."""

    __tablename__ = "signals"
    __table_args__ = (
        Index(
            "ix_signals_waiting",
            "external_account_id",
            postgresql_where=text("account_id IS NULL"),
        ),
        Index("ix_signals_account_id", "account_id"),
    )

    signal_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(100))
    external_account_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(200))
    severity: Mapped[int] = mapped_column(Integer)
    observed_on: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str | None] = mapped_column(String(4000))
    requested_terms_days: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PredictionRow(Base):
    """Predicted payment date of an invoice, and what actually happened."""

    __tablename__ = "payment_predictions"
    __table_args__ = (
        Index("ix_payment_predictions_account_id", "account_id", "due_date"),
        Index(
            "ix_payment_predictions_settled",
            "settled_on",
            postgresql_where=text("settled_on IS NOT NULL"),
        ),
    )

    invoice_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(100))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    predicted_on: Mapped[dt.date] = mapped_column(Date)
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    error_days: Mapped[int | None] = mapped_column(Integer)
    predicted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ModelRow(Base):
    """A trained model version; at most one is active (none = the points card)."""

    __tablename__ = "models"
    __table_args__ = (
        Index("uq_models_active", "active", unique=True, postgresql_where=text("active")),
    )

    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    trained_on: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
