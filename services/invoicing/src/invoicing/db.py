"""Tables of the invoicing schema: typed declarative models plus the platform tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
    text,
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
    # The ledger: balance = total - paid - written_off; disputed is informational (not dunned).
    paid_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    written_off_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    disputed_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    # ce_time of the last ERP message applied, so an older amendment arriving late is ignored.
    erp_event_time: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InvoiceAgingRow(Base):
    """The overdue sweep's mark of an invoice, apart so moving it rewrites no invoice index.

    The highest aging threshold announced (0 none) and the date the invoice next crosses one
    (NULL when closed or past the last), see domain/aging.py.
    """

    __tablename__ = "invoice_aging"

    invoice_id: Mapped[str] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[dt.date] = mapped_column(Date)
    aging_threshold: Mapped[int] = mapped_column(Integer, server_default="0")
    next_aging_at: Mapped[dt.date | None] = mapped_column(Date)


# The sweep reads only the invoices due for aging, so its cost follows the work due; the
# second index finds the other due invoices of the accounts a batch claimed.
Index(
    "ix_invoice_aging_next_aging_at",
    InvoiceAgingRow.next_aging_at,
    postgresql_where=InvoiceAgingRow.next_aging_at.is_not(None),
)
Index(
    "ix_invoice_aging_account_id_next_aging_at",
    InvoiceAgingRow.account_id,
    InvoiceAgingRow.next_aging_at,
    postgresql_where=InvoiceAgingRow.next_aging_at.is_not(None),
)
# An account's overdue invoices (sweep notices, per-account aging); the sweep's notices read
# every column they list from the index alone (0006_overdue_covering_index), and so does the
# aging report's aggregate over all open balances (0008_fewer_write_indexes: no index of its
# own, one index entry less per issued invoice).
Index(
    "ix_invoices_open_account_id_due_date",
    InvoiceRow.account_id,
    InvoiceRow.due_date,
    postgresql_include=["currency", "balance_minor", "disputed_minor", "invoice_number", "id"],
    postgresql_where=InvoiceRow.status.in_(("open", "partially_paid")),
)
# Portfolio filters of the reports (accounts tagged X).
Index("ix_accounts_tags", AccountRow.tags, postgresql_using="gin")


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


LEDGER_KINDS = (
    "invoice",
    "payment",
    "reversal",
    "credit_note",
    "debit_note",
    "write_off",
    "amendment",
    "cancellation",
    "credit_applied",
)


class LedgerEntryRow(Base):
    """One signed change of an invoice's balance; AR at any date is a sum over these."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in LEDGER_KINDS) + ")", name="kind"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    # Not indexed: no query reads the ledger by invoice (0008_fewer_write_indexes).
    invoice_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    effective_date: Mapped[dt.date] = mapped_column(Date, index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaymentApplicationRow(Base):
    """What a payment applied to an invoice; the key applies an allocation exactly once."""

    __tablename__ = "payment_applications"

    payment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    applied_minor: Mapped[int] = mapped_column(BigInteger)
    reversed_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    received_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class HeldAllocationRow(Base):
    """An allocation to an invoice not known yet; applied when it arrives, or cancelled."""

    __tablename__ = "held_allocations"
    __table_args__ = (
        Index(
            "ix_held_allocations_invoice_ref_held",
            "invoice_ref",
            postgresql_where=text("status = 'held'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(100), index=True)
    # The payer's reference: a Dunlin invoice id or the ERP's external id.
    invoice_ref: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))  # held | applied | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class OverpaymentRow(Base):
    """Money that could not be applied (allocation above the balance): unapplied credit."""

    __tablename__ = "overpayments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    payment_id: Mapped[str] = mapped_column(String(100), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reversed_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InvoiceAdjustmentRow(Base):
    """Audit of a credit/debit note, amendment, cancellation or write-off: who, when, why."""

    __tablename__ = "invoice_adjustments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DisputeRow(Base):
    """A dispute on (part of) an invoice, with who opened and resolved it, and when."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_status_seq", "status", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    invoice_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # open | upheld | rejected | withdrawn
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    credited_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_note_id: Mapped[str | None] = mapped_column(String(36))


PLATFORM_TABLES = PlatformTables.define(Base.metadata)
