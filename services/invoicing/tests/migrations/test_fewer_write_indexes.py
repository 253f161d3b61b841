"""Migration 0008_fewer_write_indexes: two fewer index entries per issued invoice, the aging
report still one index-only scan, and the downgrade puts both indexes back."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from dunlin_devstack.databases import scratch_database
from dunlin_platform.migrations import upgrade
from dunlin_platform.testing import _downgrade, schema_drift
from invoicing.db import SCHEMA, Base
from invoicing.reporting.queries import Scope, aging_now_query

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")
DROPPED = {"ix_ledger_entries_invoice_id", "ix_invoices_open_currency_due_date"}


async def _indexes(conn: AsyncConnection) -> set[str]:
    rows = await conn.execute(
        text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = :s"
            " AND tablename IN ('invoices', 'ledger_entries')"
        ),
        {"s": SCHEMA},
    )
    return {name for (name,) in rows}


async def _aging_plan(conn: AsyncConnection, scope: Scope) -> str:
    """EXPLAIN of the aging report's real statement, sequential and bitmap scans off: the
    tables are empty, the question is whether an index can serve it alone."""
    query = aging_now_query(dt.date(2026, 11, 23), scope)
    sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    await conn.execute(text("SET LOCAL enable_seqscan = off"))
    await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
    rows = await conn.execute(text(f"EXPLAIN {sql}"))
    return "\n".join(line for (line,) in rows)


async def test_indexes_dropped_at_head_report_index_only_and_back_after_downgrade(
    dunlin_postgres_server: str,
) -> None:
    async with scratch_database(dunlin_postgres_server, "dunlin_migration") as url:
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url)
            async with engine.begin() as conn:
                drift = await conn.run_sync(schema_drift, Base.metadata, SCHEMA)
                at_head = await _indexes(conn)
                plans = [
                    await _aging_plan(conn, scope)
                    for scope in (Scope(), Scope(currency="EUR"), Scope(account_id="a1"))
                ]
            await asyncio.to_thread(_downgrade, ALEMBIC_INI, url, "0007_outbox_published_partial")
            async with engine.connect() as conn:
                before = await _indexes(conn)
        finally:
            await engine.dispose()
    assert drift == []
    assert not DROPPED & at_head
    assert "ix_ledger_entries_account_id" in at_head
    for plan in plans:
        assert "Index Only Scan using ix_invoices_open_account_id_due_date" in plan, plan
    assert before - at_head == DROPPED
