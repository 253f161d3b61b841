"""Tables of the notifications schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables

SCHEMA = "notifications"

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema."""

    metadata = service_metadata(SCHEMA)


class DeliveryRow(Base):
    """One requested notification: the intent, recorded before anything is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index("ix_deliveries_account", "account_id", "created_at", "id"),
        Index("ix_deliveries_account_sent", "account_id", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[str | None] = mapped_column(String(100))
    step_key: Mapped[str] = mapped_column(String(50))
    template_key: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(35))
    channels: Mapped[list[str]] = mapped_column(JSONB)
    channel_index: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    provider: Mapped[str | None] = mapped_column(String(100))
    provider_message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    sent_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # W3C trace context of the request, so the send continues the trace that asked for it.
    traceparent: Mapped[str | None] = mapped_column(String(256))


class AttemptRow(Base):
    """One try on one channel; `sending` is written before the provider is called."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_provider_message", "provider", "provider_message_id"),
        Index(
            "ix_attempts_sending",
            "started_at",
            postgresql_where=text("status = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ActionRow(Base):
    """An operator's decision on a delivery (resend or close after review): who, why, when."""

    __tablename__ = "delivery_actions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class DocumentRow(Base):
    """An archived document: a letter as posted, or the statement attached to an e-mail."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class TemplateRow(Base):
    """One saved version of a template; the highest version is the one used."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("template_key", "channel", "locale", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    template_key: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(35))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class AccountPrefsRow(Base):
    """What invoicing told us about an account: tags and each contact's consent."""

    __tablename__ = "account_prefs"

    account_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    tags: Mapped[list[str]] = mapped_column(JSONB)
    consents: Mapped[dict[str, dict[str, bool]]] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp)


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
