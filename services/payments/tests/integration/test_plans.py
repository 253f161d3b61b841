"""Payment plans: agreement, installments paid in order, misses found by the clock, completion."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import (
    InstallmentMissed,
    PaymentPlanAgreed,
    PaymentPlanCancelled,
    PaymentPlanCompleted,
)
from dunlin_platform.clock import ManualClock
from payments.config import PaymentsSettings
from payments.handlers.plans import CancelPlan, cancel

from .support import (
    account,
    invoice,
    publish_invoicing,
    published,
    setup_account,
    wait_for_invoices,
)

JAN = dt.date(2025, 1, 31)


def schedule(start: dt.date, *amounts: str) -> list[dict[str, str]]:
    return [
        {"due_date": (start + dt.timedelta(days=10 * n)).isoformat(), "amount": amount}
        for n, amount in enumerate(amounts, start=1)
    ]


async def pay(client: httpx.AsyncClient, account_id: str, amount: str) -> str:
    body = {
        "account_id": account_id,
        "amount": amount,
        "currency": "EUR",
        "method": "direct_debit",
        "received_on": "2025-06-05",
    }
    response = await client.post("/payments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def sweep(client: httpx.AsyncClient) -> int:
    response = await client.post("/admin/plan-sweep")
    assert response.status_code == 200, response.text
    return int(response.json()["missed_installments"])


async def test_a_plan_reports_a_missed_installment_once_and_completes_when_paid(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    acc, (debt,) = await setup_account(client, settings, ("300.00", JAN))
    today = clock.now().date()
    body = {
        "account_id": acc.account_id,
        "invoice_ids": [debt.invoice_id],
        "installments": schedule(today, "100.00", "100.00", "100.00"),
        "agreed_by": "Ada AP",
    }

    created = await client.post("/payment-plans", json=body)

    assert created.status_code == 201, created.text
    plan = created.json()
    [agreed] = await published(settings, PaymentPlanAgreed, plan["id"])
    assert agreed.total == Decimal("300.00")

    await pay(client, acc.account_id, "100.00")
    clock.advance(dt.timedelta(days=21))  # installment 2 was due yesterday
    await sweep(client)
    await sweep(client)  # a second pass reports nothing new

    [missed] = await published(settings, InstallmentMissed, plan["id"])
    assert (missed.installment_number, missed.amount_paid) == (2, Decimal("0.00"))
    view = (await client.get(f"/payment-plans/{plan['id']}")).json()
    assert [x["status"] for x in view["installments"]] == ["paid", "missed", "pending"]

    last = await pay(client, acc.account_id, "200.00")

    [completed] = await published(settings, PaymentPlanCompleted, plan["id"])
    assert completed.total_paid == Decimal("300.00")
    assert (await client.get(f"/payment-plans/{plan['id']}")).json()["status"] == "completed"

    reversal = {"reason": "bounced", "reversed_on": "2025-06-25"}
    assert (await client.post(f"/payments/{last}/reverse", json=reversal)).status_code == 200
    reopened = (await client.get(f"/payment-plans/{plan['id']}")).json()
    assert reopened["status"] == "active"
    assert [x["status"] for x in reopened["installments"]] == ["paid", "pending", "pending"]
    assert await sweep(client) == 1  # the bounced installment is missed again
    await published(settings, InstallmentMissed, plan["id"], count=2)


async def test_a_plan_must_add_up_and_cover_the_accounts_own_open_invoices(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    acc, (debt,) = await setup_account(client, settings, ("300.00", JAN))
    other, (foreign,) = await setup_account(client, settings, ("50.00", JAN))
    today = clock.now().date()

    short = await client.post(
        "/payment-plans",
        json={
            "account_id": acc.account_id,
            "invoice_ids": [debt.invoice_id],
            "installments": schedule(today, "100.00", "100.00"),
        },
    )
    not_theirs = await client.post(
        "/payment-plans",
        json={
            "account_id": acc.account_id,
            "invoice_ids": [foreign.invoice_id],
            "installments": schedule(today, "50.00"),
        },
    )
    partial = await client.post(
        "/payment-plans",
        json={
            "account_id": acc.account_id,
            "invoice_ids": [debt.invoice_id],
            "installments": schedule(today, "100.00", "100.00"),
            "total": "200.00",
        },
    )

    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "installments"
    assert not_theirs.status_code == 422
    assert partial.status_code == 201, partial.text
    assert other.account_id != acc.account_id


async def agree_plan(
    client: httpx.AsyncClient,
    clock: ManualClock,
    account_id: str,
    invoice_id: str,
    *amounts: str,
    total: str | None = None,
) -> dict[str, Any]:
    """A plan agreed now, its installments 10 days apart from 10 days on (for `total`, if
    given, else the invoice's open balance)."""
    body: dict[str, Any] = {
        "account_id": account_id,
        "invoice_ids": [invoice_id],
        "installments": schedule(clock.now().date(), *amounts),
    }
    if total is not None:
        body["total"] = total
    response = await client.post("/payment-plans", json=body)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def test_a_cancelled_plan_is_not_swept_and_frees_its_invoices_for_a_new_plan(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    acc, (debt,) = await setup_account(client, settings, ("200.00", JAN))
    plan = await agree_plan(client, clock, acc.account_id, debt.invoice_id, "100.00", "100.00")
    cancel = {"reason": "renegotiated", "cancelled_by": "Carl Collector"}

    response = await client.post(f"/payment-plans/{plan['id']}/cancel", json=cancel)

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "renegotiated")
    assert cancelled["cancelled_by"] == "Carl Collector"
    (event,) = await published(settings, PaymentPlanCancelled, plan["id"])
    assert (event.plan_id, event.reason, event.total_paid) == (plan["id"], "renegotiated", 0)
    again = await client.post(f"/payment-plans/{plan['id']}/cancel", json=cancel)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/plan-not-active")
    clock.advance(dt.timedelta(days=60))
    await sweep(client)
    view = (await client.get(f"/payment-plans/{plan['id']}")).json()
    assert {x["status"] for x in view["installments"]} == {"pending"}
    replacement = await agree_plan(client, clock, acc.account_id, debt.invoice_id, "200.00")
    assert replacement["status"] == "active"
    missing = await client.post("/payment-plans/no-such-plan/cancel", json=cancel)
    assert missing.status_code == 404


async def test_plans_are_listed_per_account_and_status_page_by_page(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    settings: PaymentsSettings,
    clock: ManualClock,
):
    acc, debts = await setup_account(client, settings, *[("10.00", JAN)] * 3)
    plans = [await agree_plan(client, clock, acc.account_id, d.invoice_id, "10.00") for d in debts]
    cancel = {"reason": "agreed in error"}
    assert (
        await client.post(f"/payment-plans/{plans[1]['id']}/cancel", json=cancel)
    ).status_code == 200

    params: dict[str, str | int] = {"account_id": acc.account_id, "limit": 2}
    first = (await reader.get("/payment-plans", params=params)).json()
    rest = (
        await reader.get("/payment-plans", params={**params, "cursor": first["next_cursor"]})
    ).json()
    active = (
        await reader.get(
            "/payment-plans", params={"account_id": acc.account_id, "status": "active"}
        )
    ).json()

    assert [p["id"] for p in first["items"] + rest["items"]] == [p["id"] for p in plans]
    assert rest["next_cursor"] is None
    assert [p["id"] for p in active["items"]] == [plans[0]["id"], plans[2]["id"]]
    assert rest["items"][0]["installments"][0]["amount"] == "10.00"
    bad = await reader.get("/payment-plans", params={"status": "paused"})
    assert bad.status_code == 422


async def _someone_waits_for_a_lock(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with asyncio.timeout(10):
        while True:
            async with sessionmaker() as session:
                if await session.scalar(query):
                    return
            await asyncio.sleep(0.05)


async def test_a_payment_racing_a_cancellation_never_completes_the_cancelled_plan(
    client: httpx.AsyncClient,
    settings: PaymentsSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
):
    acc, (debt,) = await setup_account(client, settings, ("100.00", JAN))
    plan = await agree_plan(client, clock, acc.account_id, debt.invoice_id, "100.00")

    async with sessionmaker() as session, session.begin():
        await cancel(
            session=session,
            command=CancelPlan(plan_id=plan["id"], reason="renegotiated"),
            now=clock.now(),
        )
        paying = asyncio.create_task(pay(client, acc.account_id, "100.00"))
        await _someone_waits_for_a_lock(sessionmaker)
    await paying

    view = (await client.get(f"/payment-plans/{plan['id']}")).json()
    assert (view["status"], view["paid_amount"]) == ("cancelled", "0.00")


async def test_an_installment_is_missed_only_once_its_due_day_has_ended_where_the_customer_is(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    now = clock.now()
    clock.advance(
        dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(12, 0), dt.UTC) - now
    )
    due = clock.now().date()  # agreed at noon UTC, due that very day in both zones
    west = account(time_zone="America/Los_Angeles")
    east = account(time_zone="Europe/Berlin")
    west_debt, east_debt = (
        invoice(west.account_id, "50.00", JAN),
        invoice(east.account_id, "50.00", JAN),
    )
    await publish_invoicing(settings, west, west_debt, east, east_debt)
    await wait_for_invoices(client, west.account_id, west_debt.invoice_id)
    await wait_for_invoices(client, east.account_id, east_debt.invoice_id)
    plans = {}
    for acc, debt in ((west, west_debt), (east, east_debt)):
        body = {
            "account_id": acc.account_id,
            "invoice_ids": [debt.invoice_id],
            "installments": [{"due_date": due.isoformat(), "amount": "50.00"}],
        }
        response = await client.post("/payment-plans", json=body)
        assert response.status_code == 201, response.text
        plans[acc.time_zone] = response.json()["id"]

    async def statuses() -> dict[str, str]:
        views = {
            zone: (await client.get(f"/payment-plans/{p}")).json() for zone, p in plans.items()
        }
        return {zone: view["installments"][0]["status"] for zone, view in views.items()}

    clock.advance(dt.timedelta(hours=12, minutes=30))  # 00:30 UTC: the afternoon in Los Angeles
    await sweep(client)
    assert await statuses() == {"America/Los_Angeles": "pending", "Europe/Berlin": "missed"}
    clock.advance(dt.timedelta(hours=7))  # 00:30 the day after in Los Angeles
    await sweep(client)
    assert await statuses() == {"America/Los_Angeles": "missed", "Europe/Berlin": "missed"}


async def test_a_reversal_does_not_reopen_a_completed_plan_whose_invoice_a_newer_plan_holds(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    acc, (debt,) = await setup_account(client, settings, ("300.00", JAN))
    plan = await agree_plan(client, clock, acc.account_id, debt.invoice_id, "100.00", total="100")
    old = plan["id"]
    bounced = await pay(client, acc.account_id, "100.00")
    assert (await client.get(f"/payment-plans/{old}")).json()["status"] == "completed"
    newer = (await agree_plan(client, clock, acc.account_id, debt.invoice_id, "200.00"))["id"]

    reversal = {"reason": "bounced", "reversed_on": "2025-06-25"}
    assert (await client.post(f"/payments/{bounced}/reverse", json=reversal)).status_code == 200

    # The newer plan stands alone; the old one keeps its completion, its paid amount taken back.
    active = (
        await client.get(
            "/payment-plans", params={"account_id": acc.account_id, "status": "active"}
        )
    ).json()
    assert [p["id"] for p in active["items"]] == [newer]
    superseded = (await client.get(f"/payment-plans/{old}")).json()
    assert (superseded["status"], superseded["paid_amount"]) == ("completed", "0.00")
    view = (await client.get(f"/accounts/{acc.account_id}/ledger")).json()
    assert {i["id"]: i["balance"] for i in view["open_invoices"]} == {debt.invoice_id: "300.00"}
    # A later payment counts towards the newer plan only.
    await pay(client, acc.account_id, "50.00")
    assert (await client.get(f"/payment-plans/{newer}")).json()["paid_amount"] == "50.00"
    assert (await client.get(f"/payment-plans/{old}")).json()["paid_amount"] == "0.00"


async def test_an_installment_due_before_the_plan_is_agreed_is_refused_where_the_customer_is(
    client: httpx.AsyncClient, settings: PaymentsSettings, clock: ManualClock
):
    now = clock.now()
    clock.advance(
        dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(3, 0), dt.UTC) - now
    )
    today_utc = clock.now().date()  # still yesterday in Los Angeles (20:00)
    west = account(time_zone="America/Los_Angeles")
    debt = invoice(west.account_id, "90.00", JAN)
    east, (east_debt,) = await setup_account(client, settings, ("90.00", JAN))
    await publish_invoicing(settings, west, debt)
    await wait_for_invoices(client, west.account_id, debt.invoice_id)

    def body(account_id: str, invoice_id: str, first_due: dt.date) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "invoice_ids": [invoice_id],
            "installments": [
                {"due_date": first_due.isoformat(), "amount": "30.00"},
                {"due_date": (today_utc + dt.timedelta(days=30)).isoformat(), "amount": "60.00"},
            ],
        }

    yesterday = today_utc - dt.timedelta(days=1)
    late = await client.post(
        "/payment-plans", json=body(east.account_id, east_debt.invoice_id, yesterday)
    )

    assert late.status_code == 422, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    [error] = late.json()["errors"]
    assert error["field"] == "installments[0].due_date"
    assert "before the plan is agreed" in error["message"]
    # The customer's own calendar: "yesterday" in UTC is still today in Los Angeles.
    west_plan = await client.post(
        "/payment-plans", json=body(west.account_id, debt.invoice_id, yesterday)
    )
    assert west_plan.status_code == 201, west_plan.text
    await sweep(client)
    west_view = (await client.get(f"/payment-plans/{west_plan.json()['id']}")).json()
    assert west_view["installments"][0]["status"] == "pending"
    same_day = await client.post(
        "/payment-plans", json=body(east.account_id, east_debt.invoice_id, today_utc)
    )
    assert same_day.status_code == 201, same_day.text
