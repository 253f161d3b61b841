"""bench.infra.settle: the database is at rest before a timed section."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.infra import settle

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_settle_vacuums_the_given_tables_and_checkpoints(database_url: str) -> None:
    table = f"settle_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (n int)"))
            await conn.execute(text(f"INSERT INTO {table} SELECT generate_series(1, 1000)"))
        note = await settle(engine, table)
        async with engine.connect() as conn:
            vacuumed, analyzed = (
                await conn.execute(
                    text(
                        "SELECT vacuum_count + autovacuum_count, analyze_count + autoanalyze_count"
                        " FROM pg_stat_user_tables WHERE relname = :t"
                    ),
                    {"t": table},
                )
            ).one()
            # The heap's pages are all-visible after a VACUUM, as in a table written long ago.
            visible = (
                await conn.execute(
                    text(
                        "SELECT relallvisible = relpages AND relpages > 0 FROM pg_class"
                        " WHERE relname = :t"
                    ),
                    {"t": table},
                )
            ).scalar_one()
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()
    assert vacuumed >= 1
    assert analyzed >= 1
    assert visible
    assert f"vacuum analyze {table}" in note
    assert "checkpoint;" in note  # the test server lets the superuser checkpoint
