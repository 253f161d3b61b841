"""Accounts: partial updates, the hierarchy and balances rolled up over a group."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import AccountRegistered, topics
from invoicing.config import InvoicingSettings
from invoicing.db import OverpaymentRow

from .support import account_body, body_has, envelope_of, invoice_body, unique, wait_for

ONE_LINE = [{"description": "Service", "quantity": "1", "unit_price": "100.00", "tax_rate": "0"}]
FUTURE = "2099-01-10"  # due in 2099: open but not overdue


async def register(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/accounts", json=account_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def issue(client: httpx.AsyncClient, account_id: str, **overrides: Any) -> dict[str, Any]:
    body = invoice_body(account_id, lines=ONE_LINE, **overrides)
    response = await client.post("/invoices", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_patch_changes_only_what_is_sent_and_publishes_the_full_state(
    client: httpx.AsyncClient, settings: InvoicingSettings
):
    account = await register(client)
    new_name = unique("Acme Holding")
    contacts = [
        {
            "name": "Fay Finance",
            "role": "finance_decision_maker",
            "email": "cfo@acme.example",
            "consent": {"email": True, "sms": True},
        }
    ]

    response = await client.patch(
        f"/accounts/{account['id']}",
        json={
            "name": new_name,
            "payment_terms": {"kind": "end_of_month", "days": 10},
            "credit_limit": None,
            "contacts": contacts,
            "tags": ["key", "key", "dach"],
        },
        headers={"Idempotency-Key": unique("patch")},
    )

    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"] == new_name
    assert patched["payment_terms"] == {"kind": "end_of_month", "days": 10}
    assert patched["credit_limit"] is None
    assert patched["tags"] == ["key", "dach"]
    assert [c["role"] for c in patched["contacts"]] == ["finance_decision_maker"]
    assert patched["contacts"][0]["consent"]["sms"] is True
    assert (patched["time_zone"], patched["locale"]) == ("Europe/Berlin", "de-DE")  # untouched
    assert (await client.get(f"/accounts/{account['id']}")).json() == patched
    [message] = await wait_for(
        settings.kafka_bootstrap_servers, topics.INVOICING_EVENTS, body_has(new_name)
    )
    event = envelope_of(message).data
    assert isinstance(event, AccountRegistered)
    assert event.account_id == account["id"]
    assert (event.payment_terms.kind, event.time_zone) == ("end_of_month", "Europe/Berlin")
    assert [c.name for c in event.contacts] == ["Fay Finance"]
    # New invoices follow the new terms: end of March + 10 days.
    assert (await issue(client, account["id"]))["due_date"] == "2025-04-10"


async def test_a_parent_below_the_account_is_refused_as_a_cycle(client: httpx.AsyncClient):
    top = await register(client)
    middle = await register(client, parent_account_id=top["id"])
    bottom = await register(client, parent_account_id=middle["id"])

    for parent in (bottom["id"], middle["id"], top["id"]):
        response = await client.patch(f"/accounts/{top['id']}", json={"parent_account_id": parent})
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["parent_account_id"]
    unknown = await client.patch(
        f"/accounts/{top['id']}", json={"parent_account_id": unique("nobody")}
    )
    assert unknown.status_code == 422
    moved = await client.patch(f"/accounts/{bottom['id']}", json={"parent_account_id": top["id"]})
    assert moved.json()["parent_account_id"] == top["id"]
    detached = await client.patch(f"/accounts/{bottom['id']}", json={"parent_account_id": None})
    assert detached.json()["parent_account_id"] is None


async def test_the_currency_is_fixed_once_the_account_has_invoices(client: httpx.AsyncClient):
    account = await register(client, credit_limit="1000.50")
    changed = await client.patch(f"/accounts/{account['id']}", json={"currency": "USD"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["currency"], changed.json()["credit_limit"]) == ("USD", "1000.50")
    await issue(client, account["id"], currency="USD")

    refused = await client.patch(f"/accounts/{account['id']}", json={"currency": "EUR"})

    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["currency"]
    assert (
        await client.patch(f"/accounts/{account['id']}", json={"name": None})
    ).status_code == 422
    missing = await client.patch(f"/accounts/{unique('nobody')}", json={"name": "x"})
    assert missing.status_code == 404


async def test_balances_roll_up_a_three_level_group_per_currency(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
):
    root = await register(client)
    child = await register(client, currency="USD", parent_account_id=root["id"])
    grandchild = await register(client, parent_account_id=child["id"])
    await register(client)  # not in the group
    await issue(client, root["id"])  # 100 EUR overdue (due 2025-04-09)
    await issue(client, root["id"], issue_date=FUTURE)  # 100 EUR open, not overdue
    await issue(client, child["id"], currency="USD")  # 100 USD overdue
    disputed = await issue(client, grandchild["id"])  # 100 EUR overdue, 40 disputed
    dispute = await client.post(
        f"/invoices/{disputed['id']}/disputes", json={"amount": "40.00", "reason": "pricing"}
    )
    assert dispute.status_code == 201, dispute.text
    async with sessionmaker() as session, session.begin():
        session.add(
            OverpaymentRow(
                id=str(uuid.uuid4()),
                account_id=grandchild["id"],
                payment_id=unique("pay"),
                currency="EUR",
                amount_minor=2500,
                reversed_minor=0,
                created_at=dt.datetime.now(dt.UTC),
            )
        )

    group = (
        await client.get(f"/accounts/{root['id']}/balance", params={"include_children": "true"})
    ).json()
    alone = (await client.get(f"/accounts/{root['id']}/balance")).json()
    children = (await client.get(f"/accounts/{root['id']}/children")).json()

    assert group["accounts"] == 3
    assert group["balances"] == [
        {
            "currency": "EUR",
            "open": "300.00",
            "overdue": "200.00",
            "disputed": "40.00",
            "unapplied_credit": "25.00",
            "invoices": {"open": 3, "overdue": 2, "total": 3},
        },
        {
            "currency": "USD",
            "open": "100.00",
            "overdue": "100.00",
            "disputed": "0.00",
            "unapplied_credit": "0.00",
            "invoices": {"open": 1, "overdue": 1, "total": 1},
        },
    ]
    assert alone["accounts"] == 1
    assert [(b["currency"], b["open"], b["overdue"]) for b in alone["balances"]] == [
        ("EUR", "200.00", "100.00")
    ]
    assert [a["id"] for a in children["items"]] == [child["id"]]
    assert (await client.get(f"/accounts/{unique('x')}/balance")).status_code == 404
