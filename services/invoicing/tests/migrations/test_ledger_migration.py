"""0002_ledger on a fresh database: models match the migrations, old invoices get a ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import schema_drift, upgraded_across
from invoicing.db import SCHEMA, Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


ACCOUNT = (
    "INSERT INTO invoicing.accounts (id, name, currency, time_zone, locale, terms_kind,"
    " terms_days, tags, contacts, created_at)"
    " VALUES ('a1', 'A', 'EUR', 'UTC', 'en', 'net', 30, '{}', '[]', now())"
)
INVOICE = (
    "INSERT INTO invoicing.invoices (id, account_id, invoice_number, currency, issue_date,"
    " due_date, terms_kind, terms_days, subtotal_minor, tax_total_minor, total_minor,"
    " balance_minor, status, source, created_at)"
    " VALUES ('i1', 'a1', 'N1', 'EUR', '2025-01-02', '2025-02-01', 'net', 30,"
    " 1000, 190, 1190, 1190, 'open', 'api', now())"
)


async def test_backfill_writes_an_invoice_entry_and_models_match(
    dunlin_postgres_server: str,
) -> None:
    async with (
        scratch_database(dunlin_postgres_server, "dunlin_migration") as url,
        upgraded_across(url, ALEMBIC_INI, before="0001", seed=[ACCOUNT, INVOICE]) as conn,
    ):
        entries = (
            await conn.execute(
                text(
                    "SELECT kind, amount_minor, effective_date::text, paid_minor"
                    " FROM invoicing.ledger_entries e JOIN invoicing.invoices i"
                    " ON i.id = e.invoice_id"
                )
            )
        ).all()
        diff = await conn.run_sync(schema_drift, Base.metadata, SCHEMA)
    assert [tuple(e) for e in entries] == [("invoice", 1190, "2025-01-02", 0)]
    assert diff == []
