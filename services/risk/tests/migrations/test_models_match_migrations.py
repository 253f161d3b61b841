"""The migrations on a fresh database: the models match them, 0003 keeps every stored state."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from dunlin_devstack import databases
from dunlin_platform.migrations import upgrade
from dunlin_platform.testing import schema_drift
from risk.db import SCHEMA, Base
from risk.domain import synthetic
from risk.domain.state import AccountState

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _diff(connection: Connection) -> list[Any]:
    return schema_drift(connection, Base.metadata, SCHEMA)


async def test_models_match_the_migrations_and_states_survive_the_move_to_text(
    dunlin_postgres_server: str,
) -> None:
    name = f"dunlin_migration_{uuid.uuid4().hex[:10]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    url = databases.with_database(dunlin_postgres_server, name)
    states = {
        f"a{i}": synthetic.state_at(account, synthetic.SNAPSHOT_DAY)
        for i, account in enumerate(synthetic.portfolio(20, seed=6))
    }
    try:
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="0002")
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO risk.accounts (account_id, registered, state, reasons, actions,"
                    " updated_at) SELECT id, true, CAST(s AS jsonb), '[]', '[]', now()"
                    " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS u(id, s)"
                ),
                {
                    "ids": list(states),
                    "states": [json.dumps(s.to_json()) for s in states.values()],
                },
            )
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="head")
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT account_id, state FROM risk.accounts"))
            stored: dict[str, str] = {account_id: state for account_id, state in result}
            diff = await conn.run_sync(_diff)
        await engine.dispose()
        assert {k: AccountState.loads(v) for k, v in stored.items()} == states
        assert diff == []
    finally:
        await databases.drop_database(dunlin_postgres_server, name)
