"""Helpers for tests that need a service-shaped schema without a service's migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dunlin_platform.migrations import upgrade
from dunlin_platform.outbox import outbox_trigger_ddl


async def create_schema(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create the metadata's schema, its tables and the outbox trigger when there is an outbox."""
    schema = metadata.schema
    assert schema
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(metadata.create_all)
        if f"{schema}.outbox" in metadata.tables:
            for statement in outbox_trigger_ddl(schema):
                await conn.execute(text(statement))


async def drop_schema(engine: AsyncEngine, schema: str) -> None:
    """Drop a test schema and everything in it."""
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def schema_drift(connection: Connection, metadata: MetaData, schema: str) -> list[Any]:
    """What the models declare that the migrated `schema` lacks or has otherwise (empty = in
    step); run it with `AsyncConnection.run_sync` on a database migrated to head."""
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, _: type_ != "schema" or name == schema,
        },
    )
    return [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]


class PurgeIndex(NamedTuple):
    """How a migrated schema's outbox serves the relay's purge (see `outbox_purge_index`)."""

    definition: str | None  # pg_indexes.indexdef of ix_outbox_published_at (None: missing)
    plan: str  # EXPLAIN of the purge's DELETE with sequential scans disabled


async def outbox_purge_index(conn: AsyncConnection, schema: str) -> PurgeIndex:
    """The purge index of `schema`'s outbox and the plan of a purge, so a service's migration
    test can check that the migrated index is the partial one `outbox_table` declares (the
    model comparison ignores an index's WHERE) and that the purge still uses it.

    Sequential scans are disabled for the EXPLAIN only (a near-empty test table would be
    scanned otherwise): the question is whether the index CAN serve the purge's predicate.
    """
    definition = await conn.scalar(
        text(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = :schema"
            " AND tablename = 'outbox' AND indexname = 'ix_outbox_published_at'"
        ),
        {"schema": schema},
    )
    await conn.execute(text("SET LOCAL enable_seqscan = off"))
    explain = await conn.execute(
        text(
            f'EXPLAIN DELETE FROM "{schema}".outbox'  # noqa: S608 - a test's own schema name
            " WHERE published_at < :cutoff"
        ),
        {"cutoff": datetime(2000, 1, 1, tzinfo=UTC)},
    )
    plan = "\n".join(explain.scalars())
    await conn.execute(text("RESET enable_seqscan"))
    return PurgeIndex(definition, plan)


class OutboxPurgeMigration(NamedTuple):
    """A service's outbox purge index through the migration that made it partial."""

    drift: list[Any]  # `schema_drift` at head: empty when the models match the migrations
    at_head: PurgeIndex
    before: PurgeIndex  # once the migration that made the index partial is undone


async def outbox_purge_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> OutboxPurgeMigration:
    """Migrate an empty database to head, then undo `revision` (each service's
    `0NNN_outbox_published_partial`), looking at the outbox purge index at both points: one
    check of the upgrade, the downgrade and the models for every service with an outbox."""
    schema = str(metadata.schema)
    await asyncio.to_thread(upgrade, alembic_ini=alembic_ini, database_url=database_url)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            drift = await conn.run_sync(schema_drift, metadata, schema)
            at_head = await outbox_purge_index(conn, schema)
        await asyncio.to_thread(_downgrade, alembic_ini, database_url, f"{revision}-1")
        async with engine.connect() as conn:
            before = await outbox_purge_index(conn, schema)
    finally:
        await engine.dispose()
    return OutboxPurgeMigration(drift, at_head, before)


async def check_outbox_purge_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> None:
    """`outbox_purge_migration` on an empty database, failing (AssertionError) unless the
    models match the migrations, the index is partial at head and serves the purge, and
    undoing `revision` gives the full index back: the test every service with an outbox runs
    on its own `0NNN_outbox_published_partial`."""
    result = await outbox_purge_migration(
        database_url, alembic_ini=alembic_ini, metadata=metadata, revision=revision
    )
    assert result.drift == [], f"models and migrations differ: {result.drift}"
    head = result.at_head.definition
    assert head is not None, "no ix_outbox_published_at at head"
    assert head.endswith("WHERE (published_at IS NOT NULL)"), f"not partial at head: {head}"
    assert "ix_outbox_published_at" in result.at_head.plan, result.at_head.plan
    before = result.before.definition
    assert before is not None, f"no ix_outbox_published_at once {revision} is undone"
    assert "WHERE" not in before, f"still partial once {revision} is undone: {before}"


def _downgrade(alembic_ini: Path, database_url: str, revision: str) -> None:
    """`migrations.upgrade`'s counterpart, for tests only (services never migrate down)."""
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.downgrade(config, revision)
