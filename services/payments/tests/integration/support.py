"""Factories, a publisher, a topic reader and waits for the integration tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord

from dunlin_devstack.topics import envelope_of, read_topic
from dunlin_events import (
    AccountRegistered,
    Event,
    InvoiceIssued,
    KafkaRecord,
    encode,
    new_envelope,
    topics,
)
from dunlin_events.testing import account_registered, invoice_issued
from payments.config import PaymentsSettings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def account(**overrides: Any) -> AccountRegistered:
    return account_registered(
        account_id=str(uuid.uuid4()), external_id=unique("SAP-C"), **overrides
    )


def invoice(account_id: str, total: str, due: dt.date, **overrides: Any) -> InvoiceIssued:
    """An InvoiceIssued on invoicing.events (Dunlin ids) with one untaxed line."""
    line = {
        "description": "Widgets",
        "quantity": "1",
        "unit_price": total,
        "tax_rate": "0",
        "net_amount": total,
        "tax_amount": "0",
    }
    fields: dict[str, Any] = {
        "account_id": account_id,
        "invoice_id": str(uuid.uuid4()),
        "external_id": unique("SAP-I"),
        "invoice_number": unique("INV"),
        "issue_date": due - dt.timedelta(days=30),
        "due_date": due,
        "lines": [line],
        "subtotal": total,
        "tax_total": "0",
        "total": total,
        "early_payment_discount": None,
    }
    return invoice_issued(**{**fields, **overrides})


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


async def publish_invoicing(settings: PaymentsSettings, *events: Event) -> None:
    await publish(
        settings.kafka_bootstrap_servers,
        settings.invoicing_events_topic,
        *(record(e) for e in events),
    )


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within_s: float = 30.0, what: str = "condition"
) -> None:
    async with asyncio.timeout(within_s):
        while not await check():  # noqa: ASYNC110 - polling an HTTP view, not an in-process flag
            await asyncio.sleep(0.1)


async def ledger(client: httpx.AsyncClient, account_id: str) -> dict[str, Any]:
    response = await client.get(f"/accounts/{account_id}/ledger")
    return response.json() if response.status_code == 200 else {}


async def wait_for_invoices(client: httpx.AsyncClient, account_id: str, *ids: str) -> None:
    async def known() -> bool:
        view = await ledger(client, account_id)
        return set(ids) <= {i["id"] for i in view.get("open_invoices", [])}

    await eventually(known, what=f"invoices {ids}")


async def setup_account(
    client: httpx.AsyncClient, settings: PaymentsSettings, *invoices: tuple[str, dt.date]
) -> tuple[AccountRegistered, list[InvoiceIssued]]:
    """Publish an account and its invoices on invoicing.events and wait until payments knows."""
    acc = account()
    issued = [invoice(acc.account_id, total, due) for total, due in invoices]
    await publish_invoicing(settings, acc, *issued)
    if issued:
        await wait_for_invoices(client, acc.account_id, *(i.invoice_id for i in issued))
    else:
        await eventually(lambda: _known(client, acc.account_id))
    return acc, issued


async def _known(client: httpx.AsyncClient, account_id: str) -> bool:
    return bool(await ledger(client, account_id))


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


def event_of(message: ConsumerRecord[bytes, bytes]) -> Event:
    return envelope_of(message).data


async def published(
    settings: PaymentsSettings, kind: type[Event], *needles: str, count: int = 1
) -> list[Any]:
    """Events of a type on payments.events whose body contains every needle."""

    def match(m: ConsumerRecord[bytes, bytes]) -> bool:
        header = dict(m.headers).get("ce_type", b"")
        value = m.value or b""
        return header == kind.ce_type().encode() and all(n.encode() in value for n in needles)

    messages = await wait_for(
        settings.kafka_bootstrap_servers, topics.PAYMENTS_EVENTS, match, count=count
    )
    return [event_of(m) for m in messages]


def amounts(allocations: Any) -> dict[str, Decimal]:
    return {a.invoice_id: a.amount for a in allocations}
