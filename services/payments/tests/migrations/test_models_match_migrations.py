"""The migrations on a fresh database: the models match them, and 0008 gives the accounts
payments already knew UTC as their time zone (until their next AccountRegistered)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import schema_drift, upgraded_across
from payments.db import SCHEMA, Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")

KNOWN_ACCOUNT = (
    "INSERT INTO payments.accounts (id, currency, updated_at) VALUES ('a1', 'EUR', now())"
)


async def test_models_match_the_migrations_and_known_accounts_start_in_utc(
    dunlin_postgres_server: str,
) -> None:
    async with (
        scratch_database(dunlin_postgres_server, "dunlin_migration") as url,
        upgraded_across(url, ALEMBIC_INI, before="0007", seed=[KNOWN_ACCOUNT]) as conn,
    ):
        zones = (await conn.execute(text("SELECT id, time_zone FROM payments.accounts"))).all()
        diff = await conn.run_sync(schema_drift, Base.metadata, SCHEMA)
    assert [tuple(z) for z in zones] == [("a1", "UTC")]
    assert diff == []
