"""Migration 0006_outbox_seq_primary_key: `seq` is the outbox's primary key, `id` has no index;
its downgrade gives `id` its primary key back, or fails and changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from dunlin_devstack.databases import scratch_database
from dunlin_platform.migrations import upgrade
from dunlin_platform.testing import _downgrade, check_outbox_key_migration
from dunning.db import Base

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
            revision="0006",
        )


async def test_the_downgrade_refuses_two_rows_sharing_an_id_and_changes_nothing(
    dunlin_postgres_server: str,
) -> None:
    async with scratch_database(dunlin_postgres_server, "dunlin_migration") as url:
        await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url, revision="0006")
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO dunning.outbox (id, aggregatetype, aggregateid, type, topic,"
                        " source, occurred_at, payload) SELECT 'same', 'A', 'a1', 't', 'x', '/s',"
                        " now(), '{}' FROM generate_series(1, 2)"
                    )
                )
            with pytest.raises(IntegrityError):
                await asyncio.to_thread(_downgrade, ALEMBIC_INI, url, "0005")
            async with engine.connect() as conn:
                version = await conn.scalar(text("SELECT version_num FROM dunning.alembic_version"))
                ids = (await conn.execute(text("SELECT id FROM dunning.outbox"))).scalars().all()
        finally:
            await engine.dispose()
    assert version == "0006"
    assert ids == ["same", "same"]
