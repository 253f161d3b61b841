"""Tables of the payments schema: its own payments and plans, and a read model of invoicing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables

SCHEMA = "payments"


class Base(DeclarativeBase):
    """Declarative base bound to the service's own schema."""

    metadata = service_metadata(SCHEMA)


class AccountRow(Base):
    """An account as payments knows it (from AccountRegistered); locked per ledger change."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    # IANA zone: an installment is missed once its due day has ended there, not in UTC.
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    # Payments' own setting; null means the service-wide default rule.
    allocation_rule: Mapped[str | None] = mapped_column(String(30))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InvoiceRow(Base):
    """An invoice as payments sees it: invoicing's total, payments' own allocations."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_account_id_invoice_number", "account_id", "invoice_number"),
        # Ledger loads read only the open invoices of an account.
        Index(
            "ix_invoices_open",
            "account_id",
            postgresql_where=text("NOT closed AND total_minor > allocated_minor"),
        ),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    invoice_number: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[dt.date] = mapped_column(Date)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    allocated_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaymentRow(Base):
    """A payment received; its credit is what is not applied to any invoice yet."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_account_id_seq", "account_id", "seq"),
        Index(
            "ix_payments_with_credit",
            "account_id",
            postgresql_where=text("credit_minor > 0 OR earmarked_minor > 0"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    # The source's id (bank, PSP, ERP): a re-sent payment is recognised by it.
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(500))
    remittance: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    credit_minor: Mapped[int] = mapped_column(BigInteger)
    earmarks: Mapped[dict[str, int]] = mapped_column(JSONB)
    earmarked_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    reversal_id: Mapped[str | None] = mapped_column(String(36))
    # The source's id of the return that reversed it (PaymentReturned on erp.payments).
    reversal_source_id: Mapped[str | None] = mapped_column(String(100))
    reversal_reason: Mapped[str | None] = mapped_column(String(20))
    reversed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AllocationRow(Base):
    """An amount of a payment applied to an invoice; reversal stamps it, never deletes it."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))  # receipt | credit
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reversed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PlanRow(Base):
    """A payment plan; next_due_date is what the sweep looks at."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        Index("ix_payment_plans_account_id_seq", "account_id", "seq"),
        Index(
            "ix_payment_plans_next_due_date",
            "next_due_date",
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # active | completed | cancelled
    next_due_date: Mapped[dt.date | None] = mapped_column(Date)
    agreed_by: Mapped[str | None] = mapped_column(String(200))
    agreed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))


class PlanInvoiceRow(Base):
    """An invoice a plan covers; allocations to it count towards the plan."""

    __tablename__ = "plan_invoices"

    plan_id: Mapped[str] = mapped_column(ForeignKey("payment_plans.id"), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class InstallmentRow(Base):
    """One installment; what is paid is derived from the plan's paid amount, in order."""

    __tablename__ = "plan_installments"

    plan_id: Mapped[str] = mapped_column(ForeignKey("payment_plans.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    missed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PlanContributionRow(Base):
    """How much of a payment went to a plan's invoices, so a reversal can take it back."""

    __tablename__ = "plan_contributions"

    plan_id: Mapped[str] = mapped_column(ForeignKey("payment_plans.id"), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date)


class PendingPaymentRow(Base):
    """An ERP payment held until invoicing.events registers its account (topics are unordered)."""

    __tablename__ = "pending_payments"
    __table_args__ = (
        # Release looks up what waits for one ERP account, in arrival order.
        Index(
            "ix_pending_payments_waiting",
            "erp_account_id",
            "id",
            postgresql_where=text("status = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # The source's id of the payment: dedupe sees held payments as well as recorded ones.
    source_id: Mapped[str] = mapped_column(String(100), unique=True)
    erp_account_id: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    traceparent: Mapped[str | None] = mapped_column(String(256))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10))  # waiting | recorded | rejected
    payment_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(String(500))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # A PaymentReturned that came while the payment waited: applied right after it is recorded.
    return_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    return_traceparent: Mapped[str | None] = mapped_column(String(256))


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
