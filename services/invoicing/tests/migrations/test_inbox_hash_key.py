"""Migration 0010_inbox_hash_key: the inbox's key is a hash exclusion constraint."""

from __future__ import annotations

from pathlib import Path

import pytest

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import check_inbox_key_migration
from invoicing.db import Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_inbox_key_becomes_a_hash_exclusion_keeping_the_rows_and_can_be_undone(
    dunlin_postgres_server: str,
) -> None:
    async with scratch_database(dunlin_postgres_server, "dunlin_migration") as url:
        await check_inbox_key_migration(
            url, alembic_ini=ALEMBIC_INI, metadata=Base.metadata, revision="0010_inbox_hash_key"
        )
