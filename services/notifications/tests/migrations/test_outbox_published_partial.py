"""Migration 0005_outbox_published_partial: the outbox purge index holds published rows only."""

from __future__ import annotations

from pathlib import Path

import pytest

from dunlin_devstack.databases import scratch_database
from dunlin_platform.testing import check_outbox_purge_migration
from notifications.db import Base

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_purge_index_is_partial_at_head_and_full_again_after_downgrade(
    dunlin_postgres_server: str,
) -> None:
    async with scratch_database(dunlin_postgres_server, "dunlin_migration") as url:
        await check_outbox_purge_migration(
            url,
            alembic_ini=ALEMBIC_INI,
            metadata=Base.metadata,
            revision="0005_outbox_published_partial",
        )
