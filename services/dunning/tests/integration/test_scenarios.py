"""Collections scenarios through the real app, broker and database on a manual clock."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events.testing import invoice_disputed, risk_assessed
from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings

from .support import Scenario, of_type, steps

LADDER = ["courtesy", "reminder", "firm_reminder", "call", "demand", "final_notice", "agency"]


async def test_unpaid_invoice_walks_the_whole_ladder_to_the_agency(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    invoice = sc.invoice("1200.00", due_in_days=5)
    await sc.invoicing(sc.account, invoice)
    await sc.days(70)
    published = await sc.published()
    assert steps(published) == [(k, "executed") for k in LADDER]
    handed = of_type(published, "AccountHandedToAgency")
    assert len(handed) == 1
    assert handed[0].case_file.invoices[0].invoice_id == invoice.invoice_id
    assert [n.channel for n in of_type(published, "NotificationRequested")] == [
        "email",
        "email",
        "email",
        "sms",
        "letter",
        "letter",
        "email",
        "agency",
    ]
    assert len(of_type(published, "CollectorTaskCreated")) == 1
    assert of_type(published, "DunningCaseClosed")[0].reason == "handed_to_agency"
    # The hand-off closed the case, so its call task left the worklist.
    params = {"account_id": sc.account_id, "status": "cancelled"}
    tasks = (await client.get("/tasks", params=params)).json()["items"]
    assert [t["step_key"] for t in tasks] == ["call"]


async def test_payment_mid_ladder_stops_it_and_closes_the_case(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    invoice = sc.invoice("500.00", due_in_days=2)
    await sc.invoicing(sc.account, invoice)
    await sc.days(12)
    await sc.payments(sc.payment(invoice.invoice_id, "500.00"))
    await sc.days(60)
    published = await sc.published()
    assert steps(published) == [(k, "executed") for k in LADDER[:3]]
    assert [c.reason for c in of_type(published, "DunningCaseClosed")] == ["paid"]
    assert type(published[-1]).__name__ == "DunningCaseClosed"


async def test_partial_payment_neither_skips_nor_repeats_a_step(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    invoice = sc.invoice("1000.00", due_in_days=1)
    await sc.invoicing(sc.account, invoice)
    await sc.days(5)
    await sc.payments(sc.payment(invoice.invoice_id, "600.00"))
    await sc.days(30)
    published = await sc.published()
    assert steps(published) == [(k, "executed") for k in LADDER[:5]]
    demand = of_type(published, "DunningStepExecuted")[4]
    assert str(demand.dunned_balance) == "400.00"


async def test_dispute_pauses_only_the_disputed_invoice(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    disputed, other = sc.invoice("300.00", due_in_days=1), sc.invoice("700.00", due_in_days=1)
    await sc.invoicing(sc.account, disputed, other)
    await sc.invoicing(
        invoice_disputed(
            account_id=sc.account_id,
            invoice_id=disputed.invoice_id,
            currency="EUR",
            amount="300.00",
            opened_at=clock.now(),
        )
    )
    await sc.days(10)
    messages = of_type(await sc.published(), "NotificationRequested")
    assert messages
    for message in messages:
        assert [i.invoice_id for i in message.invoices] == [other.invoice_id]
        assert str(message.dunned_balance) == "700.00"


async def test_broken_promise_escalates(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    await sc.invoicing(sc.account, sc.invoice("800.00", due_in_days=-2))
    await sc.sweep()  # reminder (courtesy skipped: found already overdue)
    promised = clock.now().date() + dt.timedelta(days=3)
    response = await client.post(
        f"/accounts/{sc.account_id}/promises",
        headers={"Idempotency-Key": sc.account_id},
        json={
            "amount": "800.00",
            "promised_date": promised.isoformat(),
            "grace_days": 1,
            "recorded_by": "collector-7",
        },
    )
    assert response.status_code == 201, response.text
    await sc.days(4)
    assert steps(await sc.published()) == [("courtesy", "skipped"), ("reminder", "executed")]
    await sc.days(1)  # promised date + grace passed unpaid: broken, next step at once
    published = await sc.published()
    assert len(of_type(published, "PromiseToPayBroken")) == 1
    assert steps(published)[-1] == ("firm_reminder", "executed")
    broken_at = of_type(published, "PromiseToPayBroken")[0].broken_on
    assert of_type(published, "DunningStepExecuted")[-1].executed_at.date() == broken_at


async def test_high_risk_account_escalates_faster(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    normal = Scenario(client, settings, clock, sessionmaker)
    risky = Scenario(client, settings, clock, sessionmaker)
    await normal.invoicing(normal.account, normal.invoice("900.00", due_in_days=1))
    await risky.invoicing(risky.account, risky.invoice("900.00", due_in_days=1))
    await risky.send(
        settings.risk_events_topic,
        risk_assessed(account_id=risky.account_id, tier="high", assessed_at=clock.now()),
    )
    await normal.days(25)
    assert len(steps(await risky.published())) > len(steps(await normal.published()))
    assert ("demand", "executed") in steps(await risky.published())


async def test_duplicate_and_out_of_order_events_change_nothing(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    invoice = sc.invoice("400.00", due_in_days=1)
    payment = sc.payment(invoice.invoice_id, "400.00")
    await sc.payments(payment)  # the payment before its invoice (and before the account)
    ids = await sc.invoicing(invoice, sc.account)
    await sc.send(settings.invoicing_events_topic, invoice, sc.account, ids=ids)  # redelivered
    await sc.payments(payment)  # a duplicate with a new id
    await sc.days(20)
    assert steps(await sc.published()) == []
    case = await sc.case()
    assert case["outstanding"] == "0.00"
    assert case["status"] == "idle"
