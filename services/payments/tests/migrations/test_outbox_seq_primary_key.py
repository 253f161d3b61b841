"""Migration 0006_outbox_seq_primary_key: `seq` is the outbox's primary key, `id` has no index."""

from __future__ import annotations

from pathlib import Path

import pytest

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import check_outbox_key_migration
from payments.db import Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_seq_becomes_the_primary_key_keeping_the_rows_and_the_downgrade_restores_id(
    dunlin_postgres_server: str,
) -> None:
    async with scratch_database(dunlin_postgres_server, "dunlin_migration") as url:
        await check_outbox_key_migration(
            url,
            alembic_ini=ALEMBIC_INI,
            metadata=Base.metadata,
            revision="0006_outbox_seq_primary_key",
        )
