"""A complete sample request: templates are checked against it on save and previewed with it."""

from __future__ import annotations

from typing import Any

from dunlin_events import NotificationRequested

SAMPLE: dict[str, Any] = {
    "account_id": "acc-sample",
    "notification_id": "ntf-sample",
    "case_id": "case-sample",
    "step_key": "reminder",
    "channel": "email",
    "template_key": "reminder",
    "locale": "en",
    "time_zone": "Europe/Berlin",
    "account_name": "Sample Customer Ltd",
    "recipient": {
        "contact_id": "c-sample",
        "name": "Sam Sample",
        "role": "accounts_payable",
        "email": "ap@customer.example",
        "phone": "+4930123456",
        "postal_address": {
            "lines": ["Example Street 1"],
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
        "consent": {"email": True, "sms": True, "phone": True, "letter": True},
    },
    "currency": "EUR",
    "dunned_balance": "1190.00",
    "total_due": "1230.00",
    "invoices": [
        {
            "invoice_id": "inv-sample",
            "invoice_number": "INV-0001",
            "due_date": "2026-11-01",
            "balance": "1190.00",
            "days_overdue": 31,
        }
    ],
    "charges": [{"kind": "compensation", "description": "Flat compensation", "amount": "40.00"}],
    "pay_by": "2026-11-20",
    "payment_link": "https://pay.example/sample",
    "reply_to": "collector@creditor.example",
    "requested_at": "2026-11-10T09:00:00Z",
}


def sample_request(overrides: dict[str, Any] | None = None) -> NotificationRequested:
    """The sample, with the caller's fields on top (raises ValidationError when invalid)."""
    return NotificationRequested.model_validate(SAMPLE | (overrides or {}))
