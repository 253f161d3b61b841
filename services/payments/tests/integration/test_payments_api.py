"""Payments through the REST API: allocation, remittance, credit, reversal, refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx

from dunlin_events import PaymentAllocated, PaymentReceived, PaymentReversed
from payments.config import PaymentsSettings

from .support import amounts, invoice, ledger, publish_invoicing, published, setup_account, unique

JAN, FEB, MAR = dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)


def payment_body(account_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": account_id,
        "amount": amount,
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2025-06-01",
        "reference": "thanks",
    }
    return {**body, **overrides}


async def test_a_payment_pays_the_oldest_invoice_first_and_is_published(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (newer, older) = await setup_account(client, settings, ("100.00", FEB), ("100.00", JAN))

    response = await client.post(
        "/payments",
        json=payment_body(acc.account_id, "150.00"),
        headers={"Idempotency-Key": unique("k")},
    )

    assert response.status_code == 201, response.text
    payment = response.json()
    assert {a["invoice_id"]: a["amount"] for a in payment["allocations"]} == {
        older.invoice_id: "100.00",
        newer.invoice_id: "50.00",
    }
    assert payment["unapplied_amount"] == "0.00"
    [event] = await published(settings, PaymentReceived, payment["id"])
    assert event.account_id == acc.account_id
    assert amounts(event.allocations) == {
        older.invoice_id: Decimal("100.00"),
        newer.invoice_id: Decimal("50.00"),
    }
    view = await ledger(client, acc.account_id)
    assert [(i["id"], i["balance"]) for i in view["open_invoices"]] == [(newer.invoice_id, "50.00")]


async def test_remittance_names_the_invoice_by_number_and_the_excess_follows_the_rule(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (older, newer) = await setup_account(client, settings, ("100.00", JAN), ("80.00", FEB))
    body = payment_body(
        acc.account_id, "100.00", remittance=[{"invoice": newer.invoice_number, "amount": "90.00"}]
    )

    payment = (await client.post("/payments", json=body)).json()

    # 80 to the named invoice (its whole balance); the 10 beyond it and the rest go oldest first.
    assert {a["invoice_id"]: a["amount"] for a in payment["allocations"]} == {
        newer.invoice_id: "80.00",
        older.invoice_id: "20.00",
    }


async def test_an_overpayment_is_credit_that_the_next_invoice_consumes(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings, ("60.00", JAN))

    payment = (await client.post("/payments", json=payment_body(acc.account_id, "100.00"))).json()
    assert payment["unapplied_amount"] == "40.00"
    assert (await ledger(client, acc.account_id))["unapplied_credit"] == "40.00"

    later = invoice(acc.account_id, "25.00", MAR)
    await publish_invoicing(settings, later)

    [allocated] = await published(settings, PaymentAllocated, payment["id"])
    assert amounts(allocated.allocations) == {later.invoice_id: Decimal("25.00")}
    assert allocated.unapplied_amount == Decimal("15.00")
    refreshed = (await client.get(f"/payments/{payment['id']}")).json()
    assert refreshed["unapplied_amount"] == "15.00"
    assert {a["kind"] for a in refreshed["allocations"]} == {"receipt", "credit"}


async def test_remittance_for_an_invoice_not_known_yet_waits_for_it(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (other,) = await setup_account(client, settings, ("500.00", JAN))
    coming = invoice(acc.account_id, "70.00", FEB)
    body = payment_body(
        acc.account_id, "70.00", remittance=[{"invoice": coming.external_id, "amount": "70.00"}]
    )

    payment = (await client.post("/payments", json=body)).json()
    assert payment["allocations"] == []
    assert payment["earmarked"] == {coming.external_id: "70.00"}

    await publish_invoicing(settings, coming)

    [allocated] = await published(settings, PaymentAllocated, payment["id"])
    assert amounts(allocated.allocations) == {coming.invoice_id: Decimal("70.00")}
    view = await ledger(client, acc.account_id)
    assert [i["id"] for i in view["open_invoices"]] == [other.invoice_id]


async def test_a_reversal_reopens_the_invoices_and_a_second_one_is_a_conflict(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (first, second) = await setup_account(client, settings, ("100.00", JAN), ("100.00", FEB))
    payment = (await client.post("/payments", json=payment_body(acc.account_id, "150.00"))).json()
    reversal = {"reason": "bounced", "reversed_on": "2025-06-03"}

    response = await client.post(f"/payments/{payment['id']}/reverse", json=reversal)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "reversed"
    [event] = await published(settings, PaymentReversed, payment["id"])
    assert amounts(event.allocations) == {
        first.invoice_id: Decimal("100.00"),
        second.invoice_id: Decimal("50.00"),
    }
    balances = {
        i["id"]: i["balance"] for i in (await ledger(client, acc.account_id))["open_invoices"]
    }
    assert balances == {first.invoice_id: "100.00", second.invoice_id: "100.00"}
    again = await client.post(f"/payments/{payment['id']}/reverse", json=reversal)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_unknown_accounts_and_foreign_currencies_are_refused(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings)

    unknown = await client.post("/payments", json=payment_body("no-such-account", "10.00"))
    foreign = await client.post(
        "/payments", json=payment_body(acc.account_id, "10.00", currency="USD")
    )
    cents = await client.post("/payments", json=payment_body(acc.account_id, "10.001"))

    assert unknown.status_code == 422
    assert unknown.json()["type"].endswith("/unknown-account")
    assert foreign.status_code == 422
    assert foreign.json()["type"].endswith("/currency-mismatch")
    assert cents.status_code == 422


async def test_payments_are_listed_per_account_page_by_page(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings)
    ids = [
        (await client.post("/payments", json=payment_body(acc.account_id, f"{n}.00"))).json()["id"]
        for n in (1, 2, 3)
    ]

    first = (
        await reader.get("/payments", params={"account_id": acc.account_id, "limit": 2})
    ).json()
    rest = (
        await reader.get(
            "/payments",
            params={"account_id": acc.account_id, "limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()

    assert [p["id"] for p in first["items"] + rest["items"]] == ids
    assert rest["next_cursor"] is None
    forbidden = await reader.post("/payments", json=payment_body(acc.account_id, "1.00"))
    assert forbidden.status_code == 403


async def test_a_retried_post_with_the_same_idempotency_key_records_one_payment(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings)
    key = {"Idempotency-Key": unique("key")}
    body = payment_body(acc.account_id, "5.00")

    first = await client.post("/payments", json=body, headers=key)
    second = await client.post("/payments", json=body, headers=key)

    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"


async def test_concurrent_payments_of_one_account_never_over_allocate(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (only,) = await setup_account(client, settings, ("100.00", JAN))

    responses = await asyncio.gather(
        *(client.post("/payments", json=payment_body(acc.account_id, "30.00")) for _ in range(6))
    )

    assert all(r.status_code == 201 for r in responses)
    applied = sum(Decimal(a["amount"]) for r in responses for a in r.json()["allocations"])
    credit = sum(Decimal(r.json()["unapplied_amount"]) for r in responses)
    assert (applied, credit) == (Decimal("100.00"), Decimal("80.00"))
    view = await ledger(client, acc.account_id)
    assert view["open_invoices"] == []
    assert view["unapplied_credit"] == "80.00"
    assert only.invoice_id


async def test_a_payment_of_nothing_is_refused_as_a_problem_not_a_server_error(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings)

    response = await client.post("/payments", json=payment_body(acc.account_id, "0.00"))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "amount"
    listed = await client.get("/payments", params={"account_id": acc.account_id})
    assert listed.json()["items"] == []


async def test_a_reversal_dated_before_the_payment_was_received_is_refused(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (only,) = await setup_account(client, settings, ("100.00", JAN))
    payment = (await client.post("/payments", json=payment_body(acc.account_id, "60.00"))).json()

    response = await client.post(
        f"/payments/{payment['id']}/reverse", json={"reason": "error", "reversed_on": "2025-05-31"}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["reversed_on"]
    assert (await client.get(f"/payments/{payment['id']}")).json()["status"] == "received"
    view = await ledger(client, acc.account_id)
    assert [(i["id"], i["balance"]) for i in view["open_invoices"]] == [(only.invoice_id, "40.00")]


async def test_one_external_id_sent_for_two_accounts_at_once_is_one_payment_and_a_conflict(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    first, _ = await setup_account(client, settings)
    second, _ = await setup_account(client, settings)
    external_id = unique("BANK")

    responses = await asyncio.gather(
        *(
            client.post(
                "/payments", json=payment_body(a.account_id, "10.00", external_id=external_id)
            )
            for a in (first, second)
        )
    )

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
