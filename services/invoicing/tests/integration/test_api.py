"""Accounts and invoices through REST, against the real database and broker."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from dunlin_events import InvoiceIssued, topics
from invoicing.config import InvoicingSettings

from .support import account_body, body_has, envelope_of, invoice_body, unique, wait_for


async def register(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/accounts", json=account_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_issued_invoice_is_stored_priced_and_published(
    client: httpx.AsyncClient, settings: InvoicingSettings
):
    account = await register(client, external_id=unique("ERP-ACC"))
    assert (await client.get(f"/accounts/{account['id']}")).json()["name"] == "Acme GmbH"

    response = await client.post("/invoices", json=invoice_body(str(account["id"])))

    assert response.status_code == 201, response.text
    invoice = response.json()
    assert response.headers["Location"] == f"/invoices/{invoice['id']}"
    # 3 x 0.335 = 1.005 -> 1.01 (tax 0.19); 100.00 (tax 7.00)
    assert invoice["subtotal"] == "101.01"
    assert invoice["tax_total"] == "7.19"
    assert invoice["total"] == invoice["balance"] == "108.20"
    assert invoice["due_date"] == "2025-04-09"
    assert invoice["status"] == "open"
    fetched = await client.get(response.headers["Location"])
    assert fetched.json() == invoice
    [message] = await wait_for(
        settings.kafka_bootstrap_servers, topics.INVOICING_EVENTS, body_has(invoice["id"])
    )
    envelope = envelope_of(message)
    assert isinstance(envelope.data, InvoiceIssued)
    assert envelope.data.account_id == account["id"]
    assert envelope.data.account_external_id == account["external_id"]
    assert str(envelope.data.total) == "108.20"
    assert message.key == str(account["id"]).encode()
    assert envelope.traceparent


async def test_invoices_are_listed_in_pages_newest_issue_date_first(client: httpx.AsyncClient):
    account = await register(client)
    for day in ("2025-01-05", "2025-01-07", "2025-01-06"):
        body = invoice_body(str(account["id"]), issue_date=day)
        assert (await client.post("/invoices", json=body)).status_code == 201

    first = (await client.get("/invoices", params={"account_id": account["id"], "limit": 2})).json()
    second = (
        await client.get(
            "/invoices",
            params={"account_id": account["id"], "limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()

    dates = [i["issue_date"] for i in first["items"] + second["items"]]
    assert dates == ["2025-01-07", "2025-01-06", "2025-01-05"]
    assert second["next_cursor"] is None


async def test_accounts_are_listed_in_pages(client: httpx.AsyncClient):
    ids = [(await register(client))["id"] for _ in range(3)]
    first = (await client.get("/accounts", params={"limit": 2})).json()
    seen = [a["id"] for a in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await client.get("/accounts", params={"limit": 2, "cursor": cursor})).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert seen[-3:] == ids
    assert len(seen) == len(set(seen))


def cursor_of(*sort_key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_key).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        pytest.param("/invoices", cursor_of("2025-01-05", 2**63), id="invoices"),
        pytest.param("/accounts", cursor_of(2**63), id="accounts"),
        pytest.param("/accounts/{account}/children", cursor_of(10**30), id="children"),
        pytest.param("/disputes", cursor_of(-(2**70)), id="disputes"),
        pytest.param("/accounts", cursor_of(True), id="a boolean"),
    ],
)
async def test_a_cursor_number_no_row_can_have_is_a_problem_not_a_server_error(
    client: httpx.AsyncClient, path: str, cursor: str
):
    account = await register(client)

    response = await client.get(path.format(account=account["id"]), params={"cursor": cursor})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


async def test_an_invalid_body_is_a_problem_naming_the_fields(client: httpx.AsyncClient):
    body = invoice_body("whatever", currency="EURO")
    body["lines"][0]["quantity"] = 1.5
    response = await client.post("/invoices", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"currency", "lines[0].quantity"} <= fields


async def test_an_unknown_account_is_a_problem_naming_account_id(client: httpx.AsyncClient):
    response = await client.post("/invoices", json=invoice_body(unique("nobody")))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["account_id"]


async def test_an_invoice_in_another_currency_than_its_account_is_refused(
    client: httpx.AsyncClient,
):
    account = await register(client, currency="JPY", credit_limit="1000000")
    response = await client.post("/invoices", json=invoice_body(str(account["id"])))
    assert response.status_code == 422
    assert "currency mismatch" in response.json()["detail"]


async def test_a_duplicate_external_id_is_a_conflict(client: httpx.AsyncClient):
    external_id = unique("ERP-ACC")
    await register(client, external_id=external_id)
    response = await client.post("/accounts", json=account_body(external_id=external_id))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_request_without_a_key_is_unauthorized(anonymous: httpx.AsyncClient):
    assert (await anonymous.get("/invoices")).status_code == 401


async def test_a_key_without_the_scope_is_forbidden(
    anonymous: httpx.AsyncClient, read_only_key: str
):
    response = await anonymous.post(
        "/invoices",
        json=invoice_body("x"),
        headers={"Authorization": f"Bearer {read_only_key}"},
    )
    assert response.status_code == 403


async def test_a_repeated_idempotency_key_returns_the_same_invoice_once(
    client: httpx.AsyncClient,
):
    account = await register(client)
    body = invoice_body(str(account["id"]))
    headers = {"Idempotency-Key": unique("idem")}

    first = await client.post("/invoices", json=body, headers=headers)
    again = await client.post("/invoices", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = (await client.get("/invoices", params={"account_id": account["id"]})).json()
    assert len(listed["items"]) == 1
