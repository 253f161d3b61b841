"""Concurrent POST /invoices share transactions, yet each request gets its own answer."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicing.db import PLATFORM_TABLES, LedgerEntryRow

from .support import account_body, invoice_body, unique


async def test_concurrent_issues_are_batched_and_refusals_stay_with_their_request(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
):
    account = (await client.post("/accounts", json=account_body())).json()
    yen = (await client.post("/accounts", json=account_body(currency="JPY"))).json()
    taken_external = unique("ERP-INV")
    first = invoice_body(account["id"], external_id=taken_external)
    assert (await client.post("/invoices", json=first)).status_code == 201
    twin_number = unique("INV")
    bodies = [invoice_body(account["id"]) for _ in range(12)] + [
        invoice_body(account["id"], invoice_number=twin_number),
        invoice_body(account["id"], invoice_number=twin_number),
        invoice_body(unique("nobody")),
        invoice_body(yen["id"]),
        invoice_body(account["id"], external_id=taken_external),
        invoice_body(account["id"], due_date="2025-01-01"),  # before the issue date
    ]
    issuer = app.state.invoice_issuer
    batches_before = issuer.batches

    responses = await asyncio.gather(*(client.post("/invoices", json=b) for b in bodies))

    statuses = [r.status_code for r in responses]
    assert statuses[:12] == [201] * 12
    assert sorted(statuses[12:14]) == [201, 409]
    assert statuses[14:] == [422, 422, 409, 422]
    twin_refused = next(r for r in responses[12:14] if r.status_code == 409).json()
    assert twin_refused["field"] == "invoice_number"
    assert responses[16].json()["field"] == "external_id"
    assert [e["field"] for e in responses[14].json()["errors"]] == ["account_id"]
    assert "currency mismatch" in responses[15].json()["detail"]
    assert issuer.batches - batches_before < len(bodies)

    issued = [r.json()["id"] for r in responses if r.status_code == 201]
    outbox = PLATFORM_TABLES.outbox
    async with sessionmaker() as session:
        traces = list(
            await session.scalars(
                select(outbox.c.tracingspancontext).where(
                    outbox.c.aggregateid == account["id"],
                    outbox.c.type.like("%InvoiceIssued%"),
                )
            )
        )
        entries = set(
            await session.scalars(
                select(LedgerEntryRow.invoice_id).where(
                    LedgerEntryRow.invoice_id.in_(issued), LedgerEntryRow.kind == "invoice"
                )
            )
        )
    assert len(traces) == len(issued) + 1  # one InvoiceIssued each, plus the first invoice
    assert len(set(traces)) == len(traces)  # each in its own request's trace
    assert entries == set(issued)
