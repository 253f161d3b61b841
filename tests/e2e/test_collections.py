"""An overdue invoice through every service: dunning asks, notifications e-mails, payment stops."""

from __future__ import annotations

import datetime as dt
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from dunlin_events import DunningCaseClosed, NotificationRequested
from dunlin_events.topics import DUNNING_EVENTS

from .conftest import Platform
from .support import events_on, eventually, sweep

pytestmark = pytest.mark.asyncio(loop_scope="session")

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP SpanKind values


def next_weekday_morning(now: dt.datetime) -> dt.datetime:
    """Tuesday 09:00 UTC (10:00 in Berlin): inside business hours, outside quiet hours."""
    days = (1 - now.weekday()) % 7 or 7
    return (now + dt.timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


async def new_overdue_invoice(platform: Platform, email: str, days_overdue: int) -> dict[str, Any]:
    account = await platform.invoicing.post(
        "/accounts",
        json={
            "name": "Müller Maschinenbau GmbH",
            "currency": "EUR",
            "time_zone": "Europe/Berlin",
            "locale": "de-DE",
            "payment_terms": {"kind": "net", "days": 30},
            "contacts": [
                {
                    "name": "Ada AP",
                    "role": "accounts_payable",
                    "email": email,
                    "consent": {"email": True, "sms": False},
                }
            ],
        },
    )
    assert account.status_code == 201, account.text
    today = platform.clock.now().date()
    due = today - dt.timedelta(days=days_overdue)
    invoice = await platform.invoicing.post(
        "/invoices",
        json={
            "account_id": account.json()["id"],
            "invoice_number": f"RE-{uuid.uuid4().hex[:8]}",
            "currency": "EUR",
            "issue_date": (due - dt.timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(),
            "lines": [
                {
                    "description": "Spindel",
                    "quantity": "2",
                    "unit_price": "500.00",
                    "tax_rate": "19",
                }
            ],
        },
    )
    assert invoice.status_code == 201, invoice.text
    return dict(invoice.json())


async def case_of(platform: Platform, account_id: str) -> dict[str, Any] | None:
    response = await platform.dunning.get(f"/accounts/{account_id}/case")
    return dict(response.json()) if response.status_code == 200 else None


async def test_overdue_invoice_is_dunned_by_email_and_payment_closes_the_case(platform: Platform):
    platform.clock.set(next_weekday_morning(platform.clock.now()))
    email = f"ap-{uuid.uuid4().hex[:8]}@mueller.example"
    invoice = await new_overdue_invoice(platform, email, days_overdue=5)
    account_id = invoice["account_id"]

    async def case_knows_the_invoice() -> dict[str, Any] | None:
        case = await case_of(platform, account_id)
        ids = {i.get("invoice_id") for i in case["invoices"]} if case else set()
        return case if invoice["id"] in ids else None

    await eventually(case_knows_the_invoice)
    await sweep(platform.dunning)

    # Five days overdue: the courtesy step is recorded as skipped, the reminder is sent.
    requests = await eventually(
        lambda: events_on(platform.bootstrap, DUNNING_EVENTS, NotificationRequested, account_id)
    )
    assert [r.step_key for r in requests] == ["reminder"]
    assert [i.invoice_id for i in requests[0].invoices] == [invoice["id"]]

    [message] = await eventually(lambda: delivered(platform, email))
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert invoice["invoice_number"] in body.get_content()

    paid = await platform.payments.post(
        "/payments",
        json={
            "account_id": account_id,
            "amount": invoice["total"],
            "currency": "EUR",
            "method": "bank_transfer",
            "received_on": platform.clock.now().date().isoformat(),
            "remittance": [{"invoice": invoice["invoice_number"], "amount": invoice["total"]}],
        },
    )
    assert paid.status_code == 201, paid.text
    closed = await eventually(
        lambda: events_on(platform.bootstrap, DUNNING_EVENTS, DunningCaseClosed, account_id)
    )
    assert closed[0].reason == "paid"

    # Later sweeps leave a settled account alone.
    platform.clock.advance(dt.timedelta(days=10))
    await sweep(platform.dunning)
    again = await events_on(platform.bootstrap, DUNNING_EVENTS, NotificationRequested, account_id)
    assert len(again) == 1


async def delivered(platform: Platform, email: str) -> list[EmailMessage]:
    """Mails the sink accepted for this address (the To header also names the contact)."""
    return [m for m in platform.mail.messages if email in str(m.get("To", ""))]
