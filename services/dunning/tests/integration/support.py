"""A scenario driver: publish inbound events, move the clock, read what dunning did."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.topics import envelope_of, read_topic
from dunlin_events import (
    Envelope,
    Event,
    InvoiceIssued,
    PaymentReceived,
    encode,
    new_envelope,
    topics,
)
from dunlin_events.testing import account_registered, invoice_issued, payment_received
from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings
from dunning.db import PLATFORM_TABLES

CONTACTS = [
    {
        "contact_id": "ap",
        "name": "Ada Clerk",
        "role": "accounts_payable",
        "email": "ap@acme.example",
        "phone": "+4930123456",
        "consent": {"email": True, "sms": True, "phone": True, "letter": True},
        "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
    },
    {
        "contact_id": "cfo",
        "name": "Fin Boss",
        "role": "finance_decision_maker",
        "email": "cfo@acme.example",
        "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"},
    },
]


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Scenario:
    """One account driven through the real app and broker on the shared manual clock."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: DunningSettings,
        clock: ManualClock,
        sessionmaker: async_sessionmaker[AsyncSession],
        **account: Any,
    ) -> None:
        self.client, self.settings, self.clock, self.sessionmaker = (
            client,
            settings,
            clock,
            sessionmaker,
        )
        self.account_id = str(uuid.uuid4())
        self.account = account_registered(
            account_id=self.account_id,
            contacts=CONTACTS,
            time_zone="UTC",
            **{"tags": [], **account},
        )

    def invoice(self, total: str, *, due_in_days: int) -> InvoiceIssued:
        due = self.clock.now().date() + dt.timedelta(days=due_in_days)
        line = {
            "description": "W",
            "quantity": "1",
            "unit_price": total,
            "tax_rate": "0",
            "net_amount": total,
            "tax_amount": "0",
        }
        return invoice_issued(
            account_id=self.account_id,
            invoice_id=str(uuid.uuid4()),
            invoice_number=uid("N"),
            currency="EUR",
            issue_date=due - dt.timedelta(days=30),
            due_date=due,
            lines=[line],
            subtotal=total,
            tax_total="0",
            total=total,
            early_payment_discount=None,
            payment_terms=None,
        )

    def payment(self, invoice_id: str, amount: str) -> PaymentReceived:
        return payment_received(
            account_id=self.account_id,
            payment_id=str(uuid.uuid4()),
            amount=amount,
            currency="EUR",
            received_on=self.clock.now().date(),
            remittance=[],
            allocations=[{"invoice_id": invoice_id, "amount": amount}],
            unapplied_amount="0",
        )

    async def send(
        self,
        topic: str,
        *events: Event,
        ids: list[str] | None = None,
        traceparent: str | None = None,
    ) -> list[str]:
        """Publish and wait until dunning's consumer has applied every message."""
        envelopes = [
            dataclasses.replace(
                new_envelope(e, source="/dunlin/test", id=(ids[i] if ids else None)),
                traceparent=traceparent,
            )
            for i, e in enumerate(events)
        ]
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, acks="all"
        )
        await producer.start()
        try:
            for env in envelopes:
                rec = encode(env)
                await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
        finally:
            await producer.stop()
        await self.applied([e.id for e in envelopes])
        return [e.id for e in envelopes]

    async def applied(self, event_ids: list[str]) -> None:
        inbox = PLATFORM_TABLES.inbox
        async with asyncio.timeout(30):
            while True:
                async with self.sessionmaker() as session:
                    seen = await session.scalar(
                        select(func.count()).where(inbox.c.event_id.in_(event_ids))
                    )
                if seen == len(set(event_ids)):
                    return
                await asyncio.sleep(0.05)

    async def invoicing(self, *events: Event) -> list[str]:
        return await self.send(self.settings.invoicing_events_topic, *events)

    async def payments(self, *events: Event) -> list[str]:
        return await self.send(self.settings.payments_events_topic, *events)

    async def sweep(self) -> None:
        response = await self.client.post("/admin/dunning-sweep")
        assert response.status_code == 200, response.text

    async def days(self, n: int) -> None:
        """Move the clock n days, one day at a time, sweeping after each."""
        for _ in range(n):
            self.clock.advance(dt.timedelta(days=1))
            await self.sweep()

    async def case(self) -> dict[str, Any]:
        response = await self.client.get(f"/accounts/{self.account_id}/case")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def published(self) -> list[Event]:
        """What dunning published for this account, read back from dunning.events."""
        return [e.data for e in await self.published_envelopes()]

    async def published_envelopes(self) -> list[Envelope[Event]]:
        """The envelopes (with their trace context) dunning published for this account."""
        outbox = PLATFORM_TABLES.outbox
        async with self.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).where(outbox.c.aggregateid == self.account_id)
            )
        key = self.account_id.encode()
        records = await read_topic(
            self.settings.kafka_bootstrap_servers,
            topics.DUNNING_EVENTS,
            lambda m: m.key == key,
            count=count or 0,
        )
        return [envelope_of(r) for r in records]


def steps(events: list[Event]) -> list[tuple[str, str]]:
    """(step_key, outcome) of the DunningStepExecuted events, in order."""
    return [(e.step_key, e.outcome) for e in events if type(e).__name__ == "DunningStepExecuted"]  # type: ignore[attr-defined]


def of_type(events: list[Event], name: str) -> list[Any]:
    return [e for e in events if type(e).__name__ == name]
