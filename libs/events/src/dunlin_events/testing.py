"""Factories of valid events with unique ids, for tests here and in the services."""

from __future__ import annotations

import itertools
from typing import Any

from dunlin_events import (
    AccountOverdue,
    AccountRegistered,
    DisputeResolved,
    InstallmentMissed,
    InvoiceAdjusted,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceSettled,
    PaymentAllocated,
    PaymentPlanAgreed,
    PaymentPlanCancelled,
    PaymentPlanCompleted,
    PaymentReceived,
    PaymentReversed,
)

_ids = itertools.count(1)


def uid(prefix: str) -> str:
    """A process-unique id such as acc-17."""
    return f"{prefix}-{next(_ids)}"


def account_registered(**overrides: Any) -> AccountRegistered:
    """A valid AccountRegistered; keyword arguments override fields."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "name": "Acme GmbH",
        "currency": "EUR",
        "country": "DE",
        "time_zone": "Europe/Berlin",
        "locale": "de-DE",
        "payment_terms": {"kind": "net", "days": 30},
        "credit_limit": "50000.00",
        "tags": ["strategic"],
        "contacts": [
            {
                "contact_id": "c1",
                "name": "Ada Clerk",
                "role": "accounts_payable",
                "email": "ap@acme.example",
                "phone": "+4930123456",
                "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
            }
        ],
    }
    return AccountRegistered.model_validate({**data, **overrides})


def invoice_issued(**overrides: Any) -> InvoiceIssued:
    """A valid InvoiceIssued (EUR, two lines); keyword arguments override fields."""
    line = {
        "description": "Consulting",
        "quantity": "2",
        "unit_price": "500.00",
        "tax_rate": "19",
        "net_amount": "1000.00",
        "tax_amount": "190.00",
    }
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "invoice_number": "2024-0001",
        "currency": "EUR",
        "issue_date": "2024-01-01",
        "due_date": "2024-01-31",
        "lines": [line, {**line, "net_amount": "234.50", "tax_amount": "44.56"}],
        "subtotal": "1234.50",
        "tax_total": "234.56",
        "total": "1469.06",
        "early_payment_discount": {"percent": "2", "days": 10},
    }
    return InvoiceIssued.model_validate({**data, **overrides})


def account_overdue(**overrides: Any) -> AccountOverdue:
    """A valid AccountOverdue (two invoices, 31-day threshold); overrides apply."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "currency": "EUR",
        "overdue_balance": "300.00",
        "days_overdue": 35,
        "threshold_days": 31,
        "oldest_due_date": "2024-01-01",
        "as_of": "2024-02-05T08:00:00+01:00",
        "invoices": [
            {
                "invoice_id": "i1",
                "invoice_number": "1",
                "due_date": "2024-01-01",
                "balance": "100.00",
                "days_overdue": 35,
            },
            {
                "invoice_id": "i2",
                "invoice_number": "2",
                "due_date": "2024-01-20",
                "balance": "200.00",
                "days_overdue": 16,
            },
        ],
    }
    return AccountOverdue.model_validate({**data, **overrides})


def payment_received(**overrides: Any) -> PaymentReceived:
    """A valid, fully allocated PaymentReceived; keyword arguments override fields."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "amount": "1500.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2024-01-15",
        "remittance": [{"invoice_id": "inv-1", "amount": "1469.06"}],
        "allocations": [{"invoice_id": "inv-1", "amount": "1469.06"}],
        "unapplied_amount": "30.94",
    }
    return PaymentReceived.model_validate({**data, **overrides})


def invoice_adjusted(**overrides: Any) -> InvoiceAdjusted:
    """A valid credit-note InvoiceAdjusted."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "adjustment_id": uid("cn"),
        "kind": "credit_note",
        "currency": "EUR",
        "amount_delta": "-100.00",
        "total": "1090.00",
        "balance": "1090.00",
        "due_date": "2026-12-01",
        "status": "open",
        "effective_date": "2026-11-20",
    }
    return InvoiceAdjusted.model_validate(data | overrides)


def invoice_disputed(**overrides: Any) -> InvoiceDisputed:
    """A valid InvoiceDisputed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "dispute_id": uid("dsp"),
        "invoice_id": uid("inv"),
        "currency": "EUR",
        "amount": "250.00",
        "reason": "quality",
        "opened_at": "2026-11-20T10:00:00Z",
    }
    return InvoiceDisputed.model_validate(data | overrides)


def dispute_resolved(**overrides: Any) -> DisputeResolved:
    """A valid upheld DisputeResolved."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "dispute_id": uid("dsp"),
        "invoice_id": uid("inv"),
        "outcome": "upheld",
        "currency": "EUR",
        "credited_amount": "250.00",
        "credit_note_id": uid("cn"),
        "resolved_at": "2026-11-22T10:00:00Z",
    }
    return DisputeResolved.model_validate(data | overrides)


def invoice_settled(**overrides: Any) -> InvoiceSettled:
    """A valid InvoiceSettled, paid two days late."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "invoice_id": uid("inv"),
        "invoice_number": "INV-1",
        "currency": "EUR",
        "total": "1190.00",
        "paid_amount": "1190.00",
        "due_date": "2026-11-20",
        "settled_on": "2026-11-22",
        "days_late": 2,
    }
    return InvoiceSettled.model_validate(data | overrides)


def payment_reversed(**overrides: Any) -> PaymentReversed:
    """A valid bounced PaymentReversed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "reversal_id": uid("rev"),
        "currency": "EUR",
        "amount": "500.00",
        "reason": "bounced",
        "reversed_on": "2026-11-21",
        "allocations": [{"invoice_id": "inv-a", "amount": "400.00"}],
        "unapplied_reversed": "100.00",
    }
    return PaymentReversed.model_validate(data | overrides)


def payment_allocated(**overrides: Any) -> PaymentAllocated:
    """A valid PaymentAllocated."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "payment_id": uid("pay"),
        "currency": "EUR",
        "allocations": [{"invoice_id": "inv-b", "amount": "100.00"}],
        "unapplied_amount": "0.00",
    }
    return PaymentAllocated.model_validate(data | overrides)


def payment_plan_agreed(**overrides: Any) -> PaymentPlanAgreed:
    """A valid three-installment PaymentPlanAgreed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "invoice_ids": ["inv-a", "inv-b"],
        "total": "3000.00",
        "installments": [
            {"number": 1, "due_date": "2026-12-01", "amount": "1000.00"},
            {"number": 2, "due_date": "2027-01-01", "amount": "1000.00"},
            {"number": 3, "due_date": "2027-02-01", "amount": "1000.00"},
        ],
        "agreed_at": "2026-11-20T10:00:00Z",
    }
    return PaymentPlanAgreed.model_validate(data | overrides)


def installment_missed(**overrides: Any) -> InstallmentMissed:
    """A valid InstallmentMissed."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "installment_number": 1,
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_due": "1000.00",
        "amount_paid": "200.00",
    }
    return InstallmentMissed.model_validate(data | overrides)


def payment_plan_completed(**overrides: Any) -> PaymentPlanCompleted:
    """A valid PaymentPlanCompleted."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "total_paid": "3000.00",
        "completed_on": "2027-02-01",
    }
    return PaymentPlanCompleted.model_validate(data | overrides)


def payment_plan_cancelled(**overrides: Any) -> PaymentPlanCancelled:
    """A valid PaymentPlanCancelled."""
    data: dict[str, Any] = {
        "account_id": uid("acc"),
        "plan_id": uid("plan"),
        "currency": "EUR",
        "total_paid": "1000.00",
        "reason": "customer asked to pay in full instead",
        "cancelled_at": "2026-12-15T10:00:00Z",
    }
    return PaymentPlanCancelled.model_validate(data | overrides)
