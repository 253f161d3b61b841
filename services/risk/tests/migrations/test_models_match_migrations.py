"""The migrations on a fresh database: the models match them, 0003 keeps every stored state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import schema_drift, upgraded_across
from risk.db import SCHEMA, Base
from risk.domain import synthetic
from risk.domain.state import AccountState

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_models_match_the_migrations_and_states_survive_the_move_to_text(
    dunlin_postgres_server: str,
) -> None:
    states = {
        f"a{i}": synthetic.state_at(account, synthetic.SNAPSHOT_DAY)
        for i, account in enumerate(synthetic.portfolio(20, seed=6))
    }
    stored_as_jsonb = (
        "INSERT INTO risk.accounts (account_id, registered, state, reasons, actions, updated_at)"
        " SELECT id, true, CAST(s AS jsonb), '[]', '[]', now()"
        " FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS u(id, s)",
        {"ids": list(states), "states": [json.dumps(s.to_json()) for s in states.values()]},
    )
    async with (
        scratch_database(dunlin_postgres_server, "dunlin_migration") as url,
        upgraded_across(url, ALEMBIC_INI, before="0002", seed=[stored_as_jsonb]) as conn,
    ):
        result = await conn.execute(text("SELECT account_id, state FROM risk.accounts"))
        stored: dict[str, str] = {account_id: state for account_id, state in result}
        diff = await conn.run_sync(schema_drift, Base.metadata, SCHEMA)
    assert {k: AccountState.loads(v) for k, v in stored.items()} == states
    assert diff == []
