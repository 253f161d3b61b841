"""The migrations on a fresh database: the models match them, and 0008 gives the accounts
payments already knew UTC as their time zone (until their next AccountRegistered)."""

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
from payments.db import SCHEMA, Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _diff(connection: Connection) -> list[Any]:
    return schema_drift(connection, Base.metadata, SCHEMA)


async def test_models_match_the_migrations_and_known_accounts_start_in_utc(
    dunlin_postgres_server: str,
) -> None:
    name = f"dunlin_migration_{uuid.uuid4().hex[:10]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    url = databases.with_database(dunlin_postgres_server, name)
    try:
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="0007")
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO payments.accounts (id, currency, updated_at)"
                    " VALUES ('a1', 'EUR', now())"
                )
            )
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="head")
        async with engine.connect() as conn:
            zones = (await conn.execute(text("SELECT id, time_zone FROM payments.accounts"))).all()
            diff = await conn.run_sync(_diff)
        await engine.dispose()
        assert [tuple(z) for z in zones] == [("a1", "UTC")]
        assert diff == []
    finally:
        await databases.drop_database(dunlin_postgres_server, name)
