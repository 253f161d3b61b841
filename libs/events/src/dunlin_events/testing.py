"""Factories of valid events with unique ids, for tests here and in the services."""

from __future__ import annotations

import itertools
from typing import Any

from dunlin_events import AccountOverdue, AccountRegistered, InvoiceIssued, PaymentReceived

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
