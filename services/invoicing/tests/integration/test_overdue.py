"""The overdue sweep through the real app and broker, with a clock the test moves."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update

from dunlin_events import (
    AccountOverdue,
    Allocation,
    PaymentReceived,
    PaymentReversed,
    new_envelope,
    topics,
)
from dunlin_platform.clock import ManualClock
from invoicing.config import InvoicingSettings
from invoicing.db import InvoiceAgingRow, InvoiceRow
from invoicing.ledger.payments import PaymentsLedger
from invoicing.repository.aging import refresh_aging

from .clocked import clocked_app
from .support import account_body, envelope_of, invoice_body, unique, wait_for

START = dt.datetime(2031, 1, 1, 8, 0, tzinfo=dt.UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clocked(
    settings: InvoicingSettings,
) -> AsyncIterator[tuple[FastAPI, ManualClock, httpx.AsyncClient]]:
    async with clocked_app(settings, START) as running:
        yield running


async def account(client: httpx.AsyncClient) -> str:
    response = await client.post("/accounts", json=account_body())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def invoice(client: httpx.AsyncClient, account_id: str, due: str, price: str) -> str:
    lines = [{"description": "Work", "quantity": "1", "unit_price": price, "tax_rate": "0"}]
    body = invoice_body(account_id, issue_date="2030-09-01", due_date=due, lines=lines)
    response = await client.post("/invoices", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def sweep(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/admin/overdue-sweep")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def overdue_events(
    settings: InvoicingSettings, account_id: str, count: int
) -> list[AccountOverdue]:
    def match(message: Any) -> bool:
        return message.key == account_id.encode() and b"AccountOverdue" in dict(
            message.headers
        ).get("ce_type", b"")

    found = await wait_for(
        settings.kafka_bootstrap_servers, topics.INVOICING_EVENTS, match, count=count
    )
    events = [envelope_of(m).data for m in found]
    assert all(isinstance(e, AccountOverdue) for e in events)
    return [e for e in events if isinstance(e, AccountOverdue)]


async def set_invoice(app: FastAPI, invoice_id: str, today: dt.date, **values: Any) -> None:
    """What the ledger does to an invoice, followed by the aging refresh it must call."""
    async with app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(InvoiceRow).where(InvoiceRow.id == invoice_id).values(values))
        await refresh_aging(session=session, invoice_ids=[invoice_id], today=today)


async def test_accounts_are_announced_once_per_threshold_crossed(
    clocked: tuple[FastAPI, ManualClock, httpx.AsyncClient], settings: InvoicingSettings
):
    app, clock, client = clocked
    acme, other = await account(client), await account(client)
    first = await invoice(client, acme, "2031-01-10", "100.00")
    second = await invoice(client, acme, "2031-02-05", "50.00")
    paid = await invoice(client, acme, "2031-01-05", "30.00")
    cancelled = await invoice(client, other, "2031-01-05", "70.00")
    await sweep(client)  # 1 January: nothing of ours is due yet

    clock.set(dt.datetime(2031, 1, 11, 8, tzinfo=dt.UTC))
    await set_invoice(app, paid, clock.now().date(), status="paid", balance_minor=0)
    # Cancelled without the refresh: the sweep itself drops closed invoices.
    async with app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == cancelled)
            .values(status="cancelled", balance_minor=0)
        )
    swept = await sweep(client)
    assert swept["notices"] >= 1
    assert (await sweep(client))["notices"] == 0  # nothing new the same day

    clock.set(dt.datetime(2031, 2, 10, 8, tzinfo=dt.UTC))  # first: 31 days; second: 5 days
    await set_invoice(app, second, clock.now().date(), disputed_minor=2000)
    await sweep(client)
    assert (await sweep(client))["notices"] == 0

    day_one, day_31 = await overdue_events(settings, acme, count=2)
    assert (day_one.threshold_days, day_one.days_overdue) == (1, 1)
    assert str(day_one.overdue_balance) == "100.00"
    assert [i.invoice_id for i in day_one.invoices] == [first]
    assert (day_31.threshold_days, day_31.days_overdue) == (31, 31)
    assert day_31.oldest_due_date == dt.date(2031, 1, 10)
    # 100.00 + (50.00 - 20.00 disputed)
    assert str(day_31.overdue_balance) == "130.00"
    assert [(i.invoice_id, str(i.balance)) for i in day_31.invoices] == [
        (first, "100.00"),
        (second, "30.00"),
    ]
    await asyncio.sleep(1.0)  # anything extra would have been relayed by now
    assert len(await overdue_events(settings, acme, count=2)) == 2
    async with app.state.runtime.sessionmaker() as session:
        query = select(InvoiceAgingRow.invoice_id, InvoiceAgingRow.next_aging_at).where(
            InvoiceAgingRow.invoice_id.in_([paid, cancelled])
        )
        rows = {invoice_id: next_at for invoice_id, next_at in await session.execute(query)}
    assert rows == {paid: None, cancelled: None}


async def test_an_invoice_found_long_overdue_is_announced_at_its_age(
    clocked: tuple[FastAPI, ManualClock, httpx.AsyncClient], settings: InvoicingSettings
):
    _, clock, client = clocked
    late = await account(client)
    await invoice(client, late, "2030-10-01", "10.00")  # 132 days before 10 February 2031
    clock.set(max(clock.now(), dt.datetime(2031, 2, 10, 9, tzinfo=dt.UTC)))
    await sweep(client)
    [event] = await overdue_events(settings, late, count=1)
    assert event.threshold_days == 91
    assert event.days_overdue == (clock.now().date() - dt.date(2030, 10, 1)).days


async def test_the_sweep_needs_the_admin_scope(anonymous: httpx.AsyncClient):
    assert (await anonymous.post("/admin/overdue-sweep")).status_code == 401


async def mark(app: FastAPI, invoice_id: str) -> tuple[int, dt.date | None]:
    async with app.state.runtime.sessionmaker() as session:
        row = await session.get(InvoiceAgingRow, invoice_id)
    assert row is not None
    return row.aging_threshold, row.next_aging_at


async def test_an_invoice_reopened_by_a_payment_reversal_is_announced_again(
    clocked: tuple[FastAPI, ManualClock, httpx.AsyncClient], settings: InvoicingSettings
):
    app, clock, client = clocked
    acme = await account(client)
    invoice_id = await invoice(client, acme, "2031-05-01", "100.00")
    clock.set(max(clock.now(), dt.datetime(2031, 5, 2, 8, tzinfo=dt.UTC)))
    await sweep(client)
    assert (await mark(app, invoice_id)) == (1, dt.date(2031, 6, 1))

    payment_id = unique("pay")
    allocations = [Allocation(invoice_id=invoice_id, amount=Decimal("100.00"))]
    paid = PaymentReceived(
        account_id=acme,
        payment_id=payment_id,
        amount=Decimal("100.00"),
        currency="EUR",
        method="bank_transfer",
        received_on=clock.now().date(),
        allocations=allocations,
    )
    reversed_ = PaymentReversed(
        account_id=acme,
        payment_id=payment_id,
        reversal_id=unique("rev"),
        currency="EUR",
        amount=Decimal("100.00"),
        reason="bounced",
        reversed_on=clock.now().date(),
        allocations=allocations,
    )
    ledger = PaymentsLedger(outbox=app.state.runtime.outbox, clock=clock)
    for event in (paid, reversed_):
        # What the payments consumer does with each message, in one transaction.
        async with app.state.runtime.sessionmaker() as session, session.begin():
            await ledger(session, [new_envelope(event, source="/dunlin/payments")])
        if event is paid:
            assert (await mark(app, invoice_id)) == (0, None)  # settled: out of the sweep
    assert (await mark(app, invoice_id)) == (0, dt.date(2031, 5, 2))

    clock.set(clock.now() + dt.timedelta(days=3))
    await sweep(client)
    first, again = await overdue_events(settings, acme, count=2)
    assert (first.threshold_days, first.days_overdue) == (1, 1)
    assert (again.threshold_days, again.days_overdue) == (
        1,
        (clock.now().date() - first.oldest_due_date).days,
    )
    assert [i.invoice_id for i in again.invoices] == [invoice_id]
