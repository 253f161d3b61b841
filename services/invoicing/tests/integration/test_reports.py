"""Aging, KPIs and statements through the real app, on a small known portfolio."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import insert, update

from dunlin_platform.clock import ManualClock
from invoicing.config import InvoicingSettings
from invoicing.db import InvoiceRow, LedgerEntryRow

from .clocked import clocked_app
from .support import account_body, invoice_body, unique

TODAY = dt.datetime(2032, 7, 1, 9, 0, tzinfo=dt.UTC)
Running = tuple[FastAPI, ManualClock, httpx.AsyncClient]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clocked(settings: InvoicingSettings) -> AsyncIterator[Running]:
    async with clocked_app(settings, TODAY) as running:
        yield running


async def account(client: httpx.AsyncClient, tag: str, currency: str) -> str:
    body = account_body(currency=currency, tags=[tag])
    response = await client.post("/accounts", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def invoice(
    client: httpx.AsyncClient, account_id: str, due: str, price: str, currency: str = "EUR"
) -> dict[str, Any]:
    lines = [{"description": "Work", "quantity": "1", "unit_price": price, "tax_rate": "0"}]
    body = invoice_body(
        account_id, currency=currency, issue_date="2030-09-01", due_date=due, lines=lines
    )
    response = await client.post("/invoices", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def pay(app: FastAPI, inv: dict[str, Any], minor: int, on: str, status: str) -> None:
    """A payment as the ledger books it: an entry and the invoice's new balance."""
    async with app.state.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            insert(LedgerEntryRow).values(
                id=str(uuid.uuid4()), account_id=inv["account_id"], invoice_id=inv["id"],
                kind="payment", amount_minor=-minor, currency=inv["currency"],
                effective_date=dt.date.fromisoformat(on), source_id=unique("PAY"),
                created_at=TODAY,
            )
        )  # fmt: skip
        await session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == inv["id"])
            .values(balance_minor=InvoiceRow.balance_minor - minor, status=status)
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def portfolio(clocked: Running) -> dict[str, Any]:
    app, _, client = clocked
    tag = unique("portfolio")
    eur, usd = await account(client, tag, "EUR"), await account(client, tag, "USD")
    a = await invoice(client, eur, "2032-07-10", "100.00")  # current
    b = await invoice(client, eur, "2032-06-20", "200.00")  # 11 days: 1-30
    c = await invoice(client, eur, "2032-04-01", "40.00")  # 91 days: 90+
    d = await invoice(client, eur, "2032-05-15", "10.00")  # paid
    e = await invoice(client, usd, "2032-04-20", "300.00", currency="USD")  # 72 days: 61-90
    await pay(app, d, 1000, "2032-06-01", "paid")
    await pay(app, b, 5000, "2032-06-28", "partially_paid")
    return {"tag": tag, "eur": eur, "usd": usd, "a": a, "b": b, "c": c, "d": d, "e": e}


def buckets(report: dict[str, Any], currency: str) -> dict[str, tuple[int, str]]:
    [block] = [c for c in report["currencies"] if c["currency"] == currency]
    return {b["bucket"]: (b["count"], b["balance"]) for b in block["buckets"]}


async def test_aging_buckets_open_balances_per_currency(clocked: Running, portfolio):
    _, _, client = clocked
    response = await client.get("/reports/aging", params={"tag": portfolio["tag"]})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["as_of"] == "2032-07-01"
    assert report["balances"] == "now"
    assert buckets(report, "EUR") == {
        "current": (1, "100.00"), "1-30": (1, "150.00"), "31-60": (0, "0.00"),
        "61-90": (0, "0.00"), "90+": (1, "40.00"),
    }  # fmt: skip
    assert buckets(report, "USD")["61-90"] == (1, "300.00")
    [eur] = [c for c in report["currencies"] if c["currency"] == "EUR"]
    assert (eur["count"], eur["balance"]) == (3, "290.00")


async def test_aging_on_a_past_date_is_rebuilt_from_the_ledger(clocked: Running, portfolio):
    _, _, client = clocked
    params = {"tag": portfolio["tag"], "as_of": "2032-06-25", "currency": "EUR"}
    report = (await client.get("/reports/aging", params=params)).json()
    assert report["balances"] == "ledger"
    assert [c["currency"] for c in report["currencies"]] == ["EUR"]
    # On 25 June: B was still unpaid (200.00, 5 days), D already paid, C 85 days overdue.
    assert buckets(report, "EUR") == {
        "current": (1, "100.00"), "1-30": (1, "200.00"), "31-60": (0, "0.00"),
        "61-90": (1, "40.00"), "90+": (0, "0.00"),
    }  # fmt: skip


async def test_aging_of_one_account(clocked: Running, portfolio):
    _, _, client = clocked
    report = (await client.get("/reports/aging", params={"account_id": portfolio["usd"]})).json()
    assert [c["currency"] for c in report["currencies"]] == ["USD"]


async def test_kpis_of_an_account_over_june(clocked: Running, portfolio):
    _, _, client = clocked
    params = {"account_id": portfolio["eur"], "from": "2032-06-01", "to": "2032-06-30"}
    response = await client.get("/reports/kpis", params=params)
    assert response.status_code == 200, response.text
    [eur] = response.json()["currencies"]
    assert (eur["beginning_ar"], eur["ending_ar"]) == ("350.00", "290.00")
    assert eur["ending_current_ar"] == "100.00"  # A, due 10 July
    assert (eur["credit_sales"], eur["written_off"]) == ("0.00", "0.00")
    # CEI = (350 + 0 - 290) / (350 + 0 - 100) = 60 / 250 = 24 %
    assert eur["cei_percent"] == "24.0"
    assert eur["ar_turnover"] == "0.00"
    assert eur["write_off_rate_percent"] is None
    # Countback: no sales from October 2030 to June 2032 (639 days), then 290 of
    # September 2030's 350 over its 30 days.
    expected = (dt.date(2032, 6, 30) - dt.date(2030, 9, 30)).days + 30 * 290 / 350
    assert eur["dso_days"] == f"{expected:.1f}"
    assert eur["dso_complete"] is True


async def test_statement_lists_entries_with_running_balances(clocked: Running, portfolio):
    _, _, client = clocked
    params = {"from": "2032-06-01", "to": "2032-06-30"}
    response = await client.get(f"/accounts/{portfolio['eur']}/statement", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["currencies"] == [
        {"currency": "EUR", "opening_balance": "350.00", "debits": "0.00", "credits": "60.00",
         "closing_balance": "290.00"}
    ]  # fmt: skip
    assert [(e["kind"], e["reference"], e["credit"], e["balance"]) for e in body["entries"]] == [
        ("payment", portfolio["d"]["invoice_number"], "10.00", "340.00"),
        ("payment", portfolio["b"]["invoice_number"], "50.00", "290.00"),
    ]


async def test_statement_pages_keep_the_running_balance(clocked: Running, portfolio):
    _, _, client = clocked
    url = f"/accounts/{portfolio['eur']}/statement"
    params: dict[str, Any] = {"from": "2030-09-01", "to": "2032-06-30", "limit": 3}
    first = (await client.get(url, params=params)).json()
    second = (await client.get(url, params={**params, "cursor": first["next_cursor"]})).json()
    balances = [e["balance"] for e in first["entries"] + second["entries"]]
    assert balances[-2:] == ["340.00", "290.00"]
    assert len(balances) == 6
    assert second["next_cursor"] is None


async def test_statement_as_csv(clocked: Running, portfolio):
    _, _, client = clocked
    params = {"from": "2032-06-01", "to": "2032-06-30", "format": "csv"}
    response = await client.get(f"/accounts/{portfolio['eur']}/statement", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "currency", "date", "kind", "reference", "invoice_id", "debit", "credit", "balance"
    ]  # fmt: skip
    assert rows[1] == ["EUR", "2032-06-01", "opening_balance", "", "", "", "", "350.00"]
    assert rows[2][2:] == [
        "payment", portfolio["d"]["invoice_number"], portfolio["d"]["id"], "", "10.00", "340.00"
    ]  # fmt: skip
    assert rows[-1] == ["EUR", "2032-06-30", "closing_balance", "", "", "", "", "290.00"]
    assert len(rows) == 5


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/reports/kpis", {"from": "2032-06-30", "to": "2032-06-01"}, "from"),
        ("/reports/aging", {"currency": "XYZ"}, "currency"),
        ("/reports/aging", {"as_of": "not-a-date"}, "as_of"),
        # A cursor whose seq no row can have ("2032-06-01", 2**64) is not a server error.
        (
            "/accounts/nope/statement",
            {"cursor": "WyIyMDMyLTA2LTAxIiwxODQ0Njc0NDA3MzcwOTU1MTYxNl0"},
            "cursor",
        ),
    ],
)
async def test_bad_parameters_are_problems_naming_them(clocked: Running, url, params, field):
    _, _, client = clocked
    response = await client.get(url, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_statement_of_an_unknown_account_is_not_found(clocked: Running):
    _, _, client = clocked
    assert (await client.get("/accounts/nope/statement")).status_code == 404


async def test_reports_need_the_reports_scope(client: httpx.AsyncClient):
    assert (await client.get("/reports/aging")).status_code == 403
