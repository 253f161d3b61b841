"""Publishing to the consumed topics and waiting for the consumer, for integration tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from dunlin_events import Event, KafkaRecord, encode, new_envelope
from dunlin_events.testing import account_registered, invoice_issued, invoice_settled
from risk.config import RiskSettings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def record(event: Event, *, source: str = "/dunlin/invoicing") -> KafkaRecord:
    return encode(new_envelope(event, source=source))


async def publish(bootstrap: str, topic: str, *records: KafkaRecord) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for item in records:
            await producer.send_and_wait(topic, item.value, key=item.key, headers=item.headers)
    finally:
        await producer.stop()


def topic_of(settings: RiskSettings, event: Event) -> str:
    """The suffixed test topic an event travels on."""
    by_producer = {
        "invoicing": settings.invoicing_events_topic,
        "payments": settings.payments_events_topic,
        "dunning": settings.dunning_events_topic,
        "external": settings.risk_signals_topic,
    }
    return by_producer[type(event).producer]


async def send(settings: RiskSettings, *events: Event) -> None:
    """Publish each event on its own topic, in order."""
    for event in events:
        await publish(settings.kafka_bootstrap_servers, topic_of(settings, event), record(event))


async def eventually(check: Callable[[], Awaitable[bool]], *, within_s: float = 20.0) -> None:
    """Poll until the check holds (the consumer works asynchronously)."""
    async with asyncio.timeout(within_s):
        while not await check():  # noqa: ASYNC110 - the state lives in the database
            await asyncio.sleep(0.1)


def account(**overrides: Any) -> Event:
    fields = {"account_id": str(uuid.uuid4()), "external_id": unique("ERP"), "currency": "EUR"}
    return account_registered(**{**fields, "credit_limit": "10000.00", **overrides})


def invoice(account_id: str, total: str, issue: dt.date) -> Event:
    line = {
        "description": "Widgets",
        "quantity": "1",
        "unit_price": total,
        "tax_rate": "0",
        "net_amount": total,
        "tax_amount": "0",
    }
    return invoice_issued(
        account_id=account_id,
        invoice_id=unique("inv"),
        invoice_number=unique("INV"),
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        lines=[line],
        subtotal=total,
        tax_total="0",
        total=total,
        early_payment_discount=None,
    )


def settled(issued: Any, days_late: int) -> Event:
    due = issued.due_date
    return invoice_settled(
        account_id=issued.account_id,
        invoice_id=issued.invoice_id,
        invoice_number=issued.invoice_number,
        currency=issued.currency,
        total=issued.total,
        paid_amount=issued.total,
        due_date=due,
        settled_on=due + dt.timedelta(days=days_late),
        days_late=days_late,
    )
