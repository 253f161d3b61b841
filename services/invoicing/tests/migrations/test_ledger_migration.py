"""0002_ledger on a fresh database: models match the migrations, old invoices get a ledger."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from dunlin_devstack import databases
from dunlin_platform.migrations import upgrade
from dunlin_platform.testing import schema_drift
from invoicing.db import SCHEMA, Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _diff(connection: Connection) -> list[Any]:
    return schema_drift(connection, Base.metadata, SCHEMA)


async def test_backfill_writes_an_invoice_entry_and_models_match(
    dunlin_postgres_server: str,
) -> None:
    name = f"dunlin_migration_{uuid.uuid4().hex[:10]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    url = databases.with_database(dunlin_postgres_server, name)
    try:
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="0001")
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO invoicing.accounts (id, name, currency, time_zone, locale,"
                    " terms_kind, terms_days, tags, contacts, created_at) VALUES ('a1', 'A',"
                    " 'EUR', 'UTC', 'en', 'net', 30, '{}', '[]', now())"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO invoicing.invoices (id, account_id, invoice_number, currency,"
                    " issue_date, due_date, terms_kind, terms_days, subtotal_minor,"
                    " tax_total_minor, total_minor, balance_minor, status, source, created_at)"
                    " VALUES ('i1', 'a1', 'N1', 'EUR', '2025-01-02', '2025-02-01', 'net', 30,"
                    " 1000, 190, 1190, 1190, 'open', 'api', now())"
                )
            )
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="head")
        async with engine.connect() as conn:
            entries = (
                await conn.execute(
                    text(
                        "SELECT kind, amount_minor, effective_date::text, paid_minor"
                        " FROM invoicing.ledger_entries e JOIN invoicing.invoices i"
                        " ON i.id = e.invoice_id"
                    )
                )
            ).all()
            diff = await conn.run_sync(_diff)
        await engine.dispose()
        assert [tuple(e) for e in entries] == [("invoice", 1190, "2025-01-02", 0)]
        assert diff == []
    finally:
        await databases.drop_database(dunlin_postgres_server, name)
