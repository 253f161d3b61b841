"""The reference endpoint: bare FastAPI + asyncpg inserting an invoice row, nothing else.

Run by the HTTP benchmark beside Dunlin's `POST /invoices` so the table shows what the
framework and the database alone cost on this machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

from dunlin_devstack.databases import libpq_url


class Line(BaseModel):
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


class NewInvoice(BaseModel):
    account_id: str
    invoice_number: str
    currency: str
    issue_date: date
    lines: list[Line]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(libpq_url(os.environ["DATABASE_URL"]), max_size=10)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bare_invoices (id uuid PRIMARY KEY, account_id text, "
        "invoice_number text, currency text, issue_date date, total_minor bigint)"
    )
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/invoices", status_code=201)
async def create(invoice: NewInvoice) -> dict[str, str]:
    total = sum(line.quantity * line.unit_price for line in invoice.lines)
    invoice_id = uuid.uuid4()
    await app.state.pool.execute(
        "INSERT INTO bare_invoices VALUES ($1, $2, $3, $4, $5, $6)",
        invoice_id,
        invoice.account_id,
        invoice.invoice_number,
        invoice.currency,
        invoice.issue_date,
        int(total * 100),
    )
    return {"id": str(invoice_id)}
