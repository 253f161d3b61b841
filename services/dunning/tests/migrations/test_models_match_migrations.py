"""The migrations on a fresh database: the models match them, 0003 backfills cases.step_key,
0005 leaves the audit one index (its primary key) that the API's reads use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import schema_drift, upgraded_across
from dunning.db import SCHEMA, Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")

OPEN_STATE = json.dumps(
    {
        "account_id": "a1",
        "progress": {
            "status": "open",
            "steps": [
                {"index": i, "key": k, "outcome": "executed", "at": "2025-01-01T00:00:00Z"}
                for i, k in enumerate(["courtesy", "reminder"])
            ],
        },
    }
)


CASES = (
    "INSERT INTO dunning.cases (account_id, status, state, updated_at) VALUES"
    " ('a1', 'open', :open, now()), ('a2', 'idle', '{}', now())",
    {"open": OPEN_STATE},
)
AUDIT = (
    "INSERT INTO dunning.audit (account_id, action, actor, at, detail)"
    " VALUES ('a1', 'noted', 'someone', now(), '{}')"
)


async def test_models_match_the_migrations_and_open_cases_get_their_step(
    dunlin_postgres_server: str,
) -> None:
    async with (
        scratch_database(dunlin_postgres_server, "dunlin_migration") as url,
        upgraded_across(url, ALEMBIC_INI, before="0002", seed=[CASES, AUDIT]) as conn,
    ):
        steps = (
            await conn.execute(
                text("SELECT account_id, step_key FROM dunning.cases ORDER BY account_id")
            )
        ).all()
        diff = await conn.run_sync(schema_drift, Base.metadata, SCHEMA)
        published_index = await conn.scalar(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'dunning'"
                " AND indexname = 'ix_outbox_published_at'"
            )
        )
        # 0005: the audit's one index is its primary key (account_id, id), and the API's
        # read of an account's records (oldest first, after a cursor) uses it unsorted.
        audit_indexes = (
            await conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE schemaname = 'dunning' AND tablename = 'audit'"
                )
            )
        ).all()
        kept_audit = (
            await conn.execute(text("SELECT account_id, action FROM dunning.audit"))
        ).all()
        # 0004: the purge's index holds published rows only, and the purge still uses it.
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            (
                await conn.execute(
                    text(
                        "EXPLAIN DELETE FROM dunning.outbox"
                        " WHERE published_at < now() - interval '1 day'"
                    )
                )
            ).scalars()
        )
        audit_plan = "\n".join(
            (
                await conn.execute(
                    text(
                        "EXPLAIN SELECT * FROM dunning.audit WHERE account_id = 'a1'"
                        " AND id > 5 ORDER BY id LIMIT 51"
                    )
                )
            ).scalars()
        )
    pk_audit = "CREATE UNIQUE INDEX pk_audit ON dunning.audit USING btree (account_id, id)"
    assert [tuple(r) for r in audit_indexes] == [("pk_audit", pk_audit)]
    assert [tuple(r) for r in kept_audit] == [("a1", "noted")]
    assert "Index Scan using pk_audit" in audit_plan
    assert "Sort" not in audit_plan
    assert [tuple(s) for s in steps] == [("a1", "reminder"), ("a2", None)]
    assert diff == []
    assert published_index is not None
    assert published_index.endswith("WHERE (published_at IS NOT NULL)")
    assert "ix_outbox_published_at" in plan
