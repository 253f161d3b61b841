"""Tables of the invoicing schema: typed declarative models plus the platform tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables

SCHEMA = "invoicing"


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema (not a process-global metadata)."""

    metadata = service_metadata(SCHEMA)


class AccountRow(Base):
    """A customer account."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Keyset pagination walks this monotonic key; uuids are not ordered.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_name: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(35))
    terms_kind: Mapped[str] = mapped_column(String(20))
    terms_days: Mapped[int] = mapped_column(Integer)
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text))
    parent_account_id: Mapped[str | None] = mapped_column(String(36), index=True)
    dunning_policy: Mapped[str | None] = mapped_column(String(100))
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Hash of the ERP message that last set this account, so a re-sent one changes nothing.
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class InvoiceRow(Base):
    """An invoice; money in minor units of its currency."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("account_id", "invoice_number"),
        Index("ix_invoices_issue_date_seq", "issue_date", "seq"),
        Index("ix_invoices_account_id_issue_date_seq", "account_id", "issue_date", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    invoice_number: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    terms_kind: Mapped[str] = mapped_column(String(20))
    terms_days: Mapped[int] = mapped_column(Integer)
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    tax_total_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_days: Mapped[int | None] = mapped_column(Integer)
    purchase_order: Mapped[str | None] = mapped_column(String(100))
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InvoiceLineRow(Base):
    """One line of an invoice."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[str] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    # Unit prices may be finer than the minor unit (0.0125 EUR per kWh), so not minor units.
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    net_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
