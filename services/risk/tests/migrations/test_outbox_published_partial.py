"""Migration 0004_outbox_published_partial: the outbox purge index holds published rows only."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from dunlin_devstack import databases
from dunlin_platform.testing import outbox_purge_migration
from risk.db import Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_purge_index_is_partial_at_head_and_full_again_after_downgrade(
    dunlin_postgres_server: str,
) -> None:
    name = f"dunlin_migration_{uuid.uuid4().hex[:10]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    url = databases.with_database(dunlin_postgres_server, name)
    try:
        result = await outbox_purge_migration(
            url,
            alembic_ini=ALEMBIC_INI,
            metadata=Base.metadata,
            revision="0004_outbox_published_partial",
        )
    finally:
        await databases.drop_database(dunlin_postgres_server, name)
    assert result.drift == []
    assert result.at_head.definition is not None
    assert result.at_head.definition.endswith("WHERE (published_at IS NOT NULL)")
    assert "ix_outbox_published_at" in result.at_head.plan
    assert result.before.definition is not None
    assert "WHERE" not in result.before.definition
