"""ERP payments that arrive before their account wait for it, then are recorded once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from fastapi import FastAPI

from dunlin_events import PaymentReceived, PaymentReturned, PaymentReversed
from dunlin_events.testing import payment_returned
from dunlin_platform.runtime import ServiceRuntime
from payments.config import PaymentsSettings
from payments.metrics import held_payments
from payments.sweep import count_held_once

from .support import (
    account,
    eventually,
    invoice,
    publish,
    publish_invoicing,
    published,
    record,
    setup_account,
    unique,
)

JAN, FEB = dt.date(2025, 1, 31), dt.date(2025, 2, 28)
ERP = {"source": "/erp/sap"}


def erp_payment(erp_account_id: str, amount: str, **overrides: Any) -> PaymentReceived:
    fields: dict[str, Any] = {
        "account_id": erp_account_id,
        "payment_id": unique("BANK"),
        "amount": amount,
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2025-06-02",
    }
    return PaymentReceived.model_validate({**fields, **overrides})


async def send(settings: PaymentsSettings, *payments: PaymentReceived) -> None:
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_payments_topic,
        *(record(p, **ERP) for p in payments),
    )


async def held(
    client: httpx.AsyncClient, erp_account_id: str, status: str = "waiting"
) -> list[dict[str, Any]]:
    response = await client.get(
        "/payments/pending", params={"erp_account_id": erp_account_id, "status": status}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def wait_held(
    client: httpx.AsyncClient, erp_account_id: str, count: int, status: str = "waiting"
) -> list[dict[str, Any]]:
    async def enough() -> bool:
        return len(await held(client, erp_account_id, status)) >= count

    await eventually(enough, what=f"{count} {status} payments of {erp_account_id}")
    return await held(client, erp_account_id, status)


async def applied(client: httpx.AsyncClient, payment_id: str) -> dict[str, str]:
    """Where the payment's money went, once all of it is applied."""
    result: dict[str, str] = {}

    async def settled() -> bool:
        payment = (await client.get(f"/payments/{payment_id}")).json()
        result.clear()
        result.update({a["invoice_id"]: a["amount"] for a in payment["allocations"]})
        return bool(payment["unapplied_amount"] == "0.00")

    await eventually(settled, what=f"payment {payment_id} applied")
    return result


async def test_a_payment_before_its_account_is_held_then_recorded_and_allocated(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, settings: PaymentsSettings
):
    acc = account()
    assert acc.external_id is not None
    older, newer = invoice(acc.account_id, "100.00", JAN), invoice(acc.account_id, "40.00", FEB)
    remitted = erp_payment(
        acc.external_id, "40.00", remittance=[{"invoice_id": newer.external_id, "amount": "40.00"}]
    )
    unremitted = erp_payment(acc.external_id, "30.00")

    await send(settings, remitted, unremitted)
    waiting = await wait_held(reader, acc.external_id, 2)

    assert [w["source_id"] for w in waiting] == [remitted.payment_id, unremitted.payment_id]
    assert waiting[0]["amount"] == "40.00"
    assert waiting[0]["remittance"] == [{"invoice": newer.external_id, "amount": "40.00"}]

    await send(settings, remitted)  # re-sent while it waits (a new ce_id): still one
    await publish_invoicing(settings, acc, older, newer)

    [first] = await published(settings, PaymentReceived, remitted.payment_id)
    [second] = await published(settings, PaymentReceived, unremitted.payment_id)
    assert first.account_id == second.account_id == acc.account_id
    # The invoices may land in the account's batch or later ones (then from credit): same result.
    assert await applied(client, first.payment_id) == {newer.invoice_id: "40.00"}
    assert await applied(client, second.payment_id) == {older.invoice_id: "30.00"}
    listed = (await client.get("/payments", params={"account_id": acc.account_id})).json()
    assert [p["external_id"] for p in listed["items"]] == [
        remitted.payment_id,
        unremitted.payment_id,
    ]
    recorded = await wait_held(reader, acc.external_id, 2, status="recorded")
    assert [r["payment_id"] for r in recorded] == [first.payment_id, second.payment_id]
    assert await held(reader, acc.external_id) == []


async def test_a_held_payment_in_another_currency_than_its_account_is_rejected_visibly(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc = account()
    assert acc.external_id is not None
    foreign = erp_payment(acc.external_id, "12.00", currency="USD")

    await send(settings, foreign)
    await wait_held(client, acc.external_id, 1)
    await publish_invoicing(settings, acc)

    [rejected] = await wait_held(client, acc.external_id, 1, status="rejected")
    assert rejected["source_id"] == foreign.payment_id
    assert "currency mismatch" in rejected["error"]
    listed = (await client.get("/payments", params={"account_id": acc.account_id})).json()
    assert listed["items"] == []


async def test_held_payments_are_counted_for_the_gauge_and_listed_page_by_page(
    app: FastAPI, reader: httpx.AsyncClient, settings: PaymentsSettings
):
    erp_account_id = unique("SAP-LATE")
    await send(settings, *(erp_payment(erp_account_id, f"{n}.00") for n in (1, 2, 3)))
    await wait_held(reader, erp_account_id, 3)
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)

    assert await count_held_once(runtime) >= 3
    assert (held_payments.waiting or 0) >= 3

    params: dict[str, str | int] = {"erp_account_id": erp_account_id, "limit": 2}
    first = (await reader.get("/payments/pending", params=params)).json()
    rest = (
        await reader.get("/payments/pending", params={**params, "cursor": first["next_cursor"]})
    ).json()
    assert [p["amount"] for p in first["items"] + rest["items"]] == ["1.00", "2.00", "3.00"]
    assert rest["next_cursor"] is None


async def hold_with_return(
    settings: PaymentsSettings, reader: httpx.AsyncClient, erp_account: str, amount: str
) -> tuple[PaymentReceived, PaymentReturned]:
    """An ERP payment for an account not known yet and its return: both held, together."""
    payment = erp_payment(erp_account, amount)
    returned = payment_returned(
        account_id=erp_account,
        payment_id=payment.payment_id,
        amount=amount,
        reason="bounced",
        returned_on="2025-06-05",
    )
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_payments_topic,
        record(payment, **ERP),
        record(returned, **ERP),
    )

    async def with_return() -> bool:
        waiting = await held(reader, erp_account)
        return bool(waiting) and waiting[0]["returned"] is not None

    await eventually(with_return, what="the return held with its payment")
    return payment, returned


async def test_a_return_of_a_held_payment_waits_with_it_and_is_applied_after_it(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, settings: PaymentsSettings
):
    acc = account()
    assert acc.external_id is not None
    bill = invoice(acc.account_id, "80.00", JAN)
    payment, returned = await hold_with_return(settings, reader, acc.external_id, "80.00")
    [waiting] = await held(reader, acc.external_id)
    assert waiting["returned"] == {
        "return_id": returned.return_id,
        "reason": "bounced",
        "returned_on": "2025-06-05",
    }

    await publish_invoicing(settings, acc, bill)

    [received] = await published(settings, PaymentReceived, payment.payment_id)
    [reversal] = await published(settings, PaymentReversed, received.payment_id)
    assert reversal.reversal_id != returned.return_id  # Dunlin's id; the source's is kept
    shown = (await client.get(f"/payments/{received.payment_id}")).json()
    assert (shown["status"], shown["reversal_source_id"]) == ("reversed", returned.return_id)
    view = (await client.get(f"/accounts/{acc.account_id}/ledger")).json()
    assert {i["id"]: i["balance"] for i in view["open_invoices"]} == {bill.invoice_id: "80.00"}


async def test_a_held_payment_whose_id_another_account_took_meanwhile_is_rejected_not_merged(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, settings: PaymentsSettings
):
    other, _ = await setup_account(client, settings, ("50.00", JAN))
    acc = account()
    assert acc.external_id is not None
    payment, _ = await hold_with_return(settings, reader, acc.external_id, "30.00")
    # Another account's payment is recorded through REST under the same source id meanwhile.
    twin = await client.post(
        "/payments",
        json={
            "account_id": other.account_id,
            "amount": "30.00",
            "currency": "EUR",
            "method": "bank_transfer",
            "received_on": "2025-06-03",
            "external_id": payment.payment_id,
        },
    )
    assert twin.status_code == 201, twin.text

    await publish_invoicing(settings, acc)

    [rejected] = await wait_held(reader, acc.external_id, 1, status="rejected")
    assert rejected["payment_id"] is None
    assert "another account" in rejected["error"]
    # Neither recorded on this account nor the return applied to the other account's payment.
    assert (await client.get("/payments", params={"account_id": acc.account_id})).json()[
        "items"
    ] == []
    shown = (await client.get(f"/payments/{twin.json()['id']}")).json()
    assert shown["status"] == "received"
