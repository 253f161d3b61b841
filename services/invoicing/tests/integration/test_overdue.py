"""The overdue sweep through the real app and broker, with a clock the test moves."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update

from dunlin_events import AccountOverdue, topics
from dunlin_platform.clock import ManualClock
from invoicing.config import InvoicingSettings
from invoicing.db import InvoiceRow
from invoicing.repository.aging import refresh_aging

from .clocked import clocked_app
from .support import account_body, envelope_of, invoice_body, wait_for

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
        query = select(InvoiceRow.id, InvoiceRow.next_aging_at).where(
            InvoiceRow.id.in_([paid, cancelled])
        )
        rows = dict((await session.execute(query)).tuples().all())
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
