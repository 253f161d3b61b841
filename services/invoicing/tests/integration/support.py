"""Small factories and a topic reader for the integration tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord

from dunlin_devstack.topics import envelope_of as envelope_of
from dunlin_devstack.topics import read_topic
from dunlin_events import (
    AccountRegistered,
    Event,
    InvoiceIssued,
    InvoiceLine,
    KafkaRecord,
    PaymentTerms,
    encode,
    new_envelope,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def account_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme GmbH",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "locale": "de-DE",
        "payment_terms": {"kind": "net", "days": 30},
        "credit_limit": "50000.00",
        "tags": ["strategic"],
        "contacts": [
            {
                "name": "Ada AP",
                "role": "accounts_payable",
                "email": "ap@acme.example",
                "consent": {"email": True, "sms": False},
            }
        ],
    }
    return {**body, **overrides}


def invoice_body(account_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "invoice_number": unique("INV"),
        "currency": "EUR",
        "issue_date": "2025-03-10",
        "lines": [
            {"description": "Consulting", "quantity": "3", "unit_price": "0.335", "tax_rate": "19"},
            {"description": "Licence", "quantity": "1", "unit_price": "100.00", "tax_rate": "7"},
        ],
    }
    return {**body, **overrides}


def erp_invoice(
    account: str, invoice: str, *, currency: str = "EUR", **overrides: Any
) -> InvoiceIssued:
    fields: dict[str, Any] = {
        "account_id": account,
        "invoice_id": invoice,
        "invoice_number": f"N-{invoice}",
        "currency": currency,
        "issue_date": dt.date(2025, 5, 2),
        "lines": [
            InvoiceLine(
                description="Widgets",
                quantity=Decimal(10),
                unit_price=Decimal("12.50"),
                tax_rate=Decimal(19),
                net_amount=Decimal("125.00"),
                tax_amount=Decimal("23.75"),
            )
        ],
        "subtotal": Decimal("125.00"),
        "tax_total": Decimal("23.75"),
        "total": Decimal("148.75"),
    }
    return InvoiceIssued(**{**fields, **overrides})


def erp_account(account: str, *, currency: str = "EUR") -> AccountRegistered:
    return AccountRegistered(
        account_id=account,
        name=f"ERP customer {account}",
        currency=currency,
        payment_terms=PaymentTerms(kind="end_of_month", days=15),
    )


async def publish(bootstrap: str, topic: str, *records: KafkaRecord) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


def erp_record(event: Event) -> KafkaRecord:
    return encode(new_envelope(event, source="/erp/sap"))


async def wait_for(
    bootstrap: str,
    topic: str,
    match: Callable[[ConsumerRecord[bytes, bytes]], bool],
    *,
    count: int = 1,
    within_s: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read the topic from the beginning until `count` records match (or fail on timeout)."""
    return await read_topic(bootstrap, topic, match, count=count, within_s=within_s)


def body_has(*needles: str) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    return lambda m: all(n.encode() in (m.value or b"") for n in needles)
