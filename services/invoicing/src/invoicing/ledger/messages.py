"""Ledger facts invoicing publishes: adjustments, disputes and their resolution."""

from __future__ import annotations

import datetime as dt

from dunlin_events import DisputeResolved, InvoiceAdjusted, InvoiceDisputed, from_minor
from dunlin_events.ledger import AdjustmentKind
from invoicing.db import DisputeRow, InvoiceRow


def invoice_adjusted(
    row: InvoiceRow,
    *,
    adjustment_id: str,
    kind: AdjustmentKind,
    amount_delta_minor: int,
    effective_date: dt.date,
    reason: str | None = None,
    previous_due_date: dt.date | None = None,
) -> InvoiceAdjusted:
    """The InvoiceAdjusted fact of a row as it now stands."""
    currency = row.currency
    return InvoiceAdjusted(
        account_id=row.account_id,
        invoice_id=row.id,
        adjustment_id=adjustment_id,
        kind=kind,
        currency=currency,
        amount_delta=from_minor(amount_delta_minor, currency),
        total=from_minor(row.total_minor, currency),
        balance=from_minor(row.balance_minor, currency),
        due_date=row.due_date,
        previous_due_date=previous_due_date,
        status=row.status,
        reason=reason,
        effective_date=effective_date,
    )


def invoice_disputed(dispute: DisputeRow) -> InvoiceDisputed:
    """The InvoiceDisputed fact of a new dispute."""
    return InvoiceDisputed(
        account_id=dispute.account_id,
        dispute_id=dispute.id,
        invoice_id=dispute.invoice_id,
        currency=dispute.currency,
        amount=from_minor(dispute.amount_minor, dispute.currency),
        reason=dispute.reason,
        contact_id=dispute.contact_id,
        note=dispute.note,
        opened_at=dispute.opened_at,
    )


def dispute_resolved(dispute: DisputeRow) -> DisputeResolved:
    """The DisputeResolved fact of a resolved dispute."""
    assert dispute.resolved_at is not None
    return DisputeResolved(
        account_id=dispute.account_id,
        dispute_id=dispute.id,
        invoice_id=dispute.invoice_id,
        outcome=dispute.status,
        currency=dispute.currency,
        credited_amount=from_minor(dispute.credited_minor, dispute.currency),
        credit_note_id=dispute.credit_note_id,
        note=dispute.resolution_note,
        resolved_at=dispute.resolved_at,
    )
