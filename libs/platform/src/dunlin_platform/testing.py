"""Helpers for tests that need a service-shaped schema without a service's migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dunlin_platform.errors import sqlstate_of
from dunlin_platform.migrations import alembic_config, upgrade
from dunlin_platform.outbox import outbox_table, outbox_trigger_ddl
from dunlin_platform.relay import mark_sql, select_sql


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


Seed = Sequence[str | tuple[str, Mapping[str, Any]]]


@asynccontextmanager
async def upgraded_across(
    url: str, alembic_ini: Path, *, before: str, seed: Seed
) -> AsyncIterator[AsyncConnection]:
    """Migrate the empty database at `url` to revision `before`, write the `seed` statements
    (SQL, or SQL and its parameters) in one transaction, migrate to head, and yield a
    connection to read what the data migrations made of the rows (and `schema_drift`)."""
    await asyncio.to_thread(upgrade, alembic_ini=alembic_ini, database_url=url, revision=before)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in seed:
                sql, params = (statement, {}) if isinstance(statement, str) else statement
                await conn.execute(text(sql), dict(params))
        await asyncio.to_thread(upgrade, alembic_ini=alembic_ini, database_url=url, revision="head")
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


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


class OutboxIndexes(NamedTuple):
    """A schema's outbox indexes and the plans of the relay's statements over them."""

    definitions: dict[str, str]  # pg_indexes.indexdef by index name
    read: str  # EXPLAIN of the relay's read of the oldest unpublished rows
    mark: str  # EXPLAIN of its mark of the rows it published
    purge: str  # EXPLAIN of its purge of old published rows


async def outbox_indexes(conn: AsyncConnection, schema: str) -> OutboxIndexes:
    """`schema`'s outbox indexes as migrated (the model comparison ignores an index's WHERE
    and the primary key's columns) and how the relay's read, mark and purge use them.

    Sequential scans are disabled for the EXPLAINs only (a near-empty test table would be
    scanned otherwise): the question is whether an index CAN serve each statement.
    """
    rows = await conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = :schema AND tablename = 'outbox'"
        ),
        {"schema": schema},
    )
    definitions = {name: definition for name, definition in rows}
    table = outbox_table(MetaData(schema=schema))
    await conn.execute(text("SET LOCAL enable_seqscan = off"))
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    read, mark = [
        "\n".join(row[0] for row in await driver.fetch(f"EXPLAIN {statement}", argument))
        for statement, argument in ((select_sql(table), 100), (mark_sql(table), [1, 2]))
    ]
    explain = await conn.execute(
        text(
            f'EXPLAIN DELETE FROM "{schema}".outbox'  # noqa: S608 - a test's own schema name
            " WHERE published_at < :cutoff"
        ),
        {"cutoff": datetime(2000, 1, 1, tzinfo=UTC)},
    )
    purge = "\n".join(explain.scalars())
    await conn.execute(text("RESET enable_seqscan"))
    return OutboxIndexes(definitions, read, mark, purge)


class PurgeIndex(NamedTuple):
    """How a migrated schema's outbox serves the relay's purge (see `outbox_purge_index`)."""

    definition: str | None  # pg_indexes.indexdef of ix_outbox_published_at (None: missing)
    plan: str  # EXPLAIN of the purge's DELETE with sequential scans disabled


async def outbox_purge_index(conn: AsyncConnection, schema: str) -> PurgeIndex:
    """The purge index of `schema`'s outbox and the plan of a purge, so a service's migration
    test can check that the migrated index is the partial one `outbox_table` declares and
    that the purge still uses it (see `outbox_indexes`)."""
    indexes = await outbox_indexes(conn, schema)
    return PurgeIndex(indexes.definitions.get("ix_outbox_published_at"), indexes.purge)


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


class OutboxKeyMigration(NamedTuple):
    """A service's outbox through the migration that made `seq` its primary key."""

    drift: list[Any]  # `schema_drift` at head: empty when the models match the migrations
    rows: list[list[tuple[Any, ...]]]  # (id, seq, published_at) before, at head, undone
    at_head: OutboxIndexes
    undone: OutboxIndexes  # once the migration is undone


# Rows written before the migration: (id, published) for each, in seq order.
_KEY_MIGRATION_ROWS = (("e1", True), ("e2", False), ("e3", True), ("e4", False))
# The relay's read and purge indexes, the same before and after the migration.
_PARTIAL_INDEXES = {"ix_outbox_unpublished", "ix_outbox_published_at"}


async def outbox_key_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> OutboxKeyMigration:
    """Migrate an empty database to just before `revision` (each service's
    `0NNN_outbox_seq_primary_key`), write outbox rows, migrate to head, then undo `revision`,
    reading the rows and the outbox indexes at each point."""
    schema = str(metadata.schema)
    before = await _upgrade_to_before(alembic_ini, database_url, revision)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await _write_outbox_rows(conn, schema)
        rows = [await _outbox_rows(engine, schema)]
        await asyncio.to_thread(upgrade, alembic_ini=alembic_ini, database_url=database_url)
        async with engine.connect() as conn:
            drift = await conn.run_sync(schema_drift, metadata, schema)
            at_head = await outbox_indexes(conn, schema)
        rows.append(await _outbox_rows(engine, schema))
        await asyncio.to_thread(_downgrade, alembic_ini, database_url, before)
        async with engine.connect() as conn:
            undone = await outbox_indexes(conn, schema)
        rows.append(await _outbox_rows(engine, schema))
    finally:
        await engine.dispose()
    return OutboxKeyMigration(drift, rows, at_head, undone)


async def check_outbox_key_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> None:
    """`outbox_key_migration`, failing (AssertionError) unless the models match the
    migrations, the rows survive both ways unchanged, at head `seq` is the primary key and
    the only other indexes are the relay's two partial ones, the relay's read, mark and purge
    each use an index, and undoing `revision` gives back the primary key on `id` and
    `uq_outbox_seq`: the test every service with an outbox runs on its own migration."""
    result = await outbox_key_migration(
        database_url, alembic_ini=alembic_ini, metadata=metadata, revision=revision
    )
    assert result.drift == [], f"models and migrations differ: {result.drift}"
    written, at_head, undone = result.rows
    assert [(row[0], row[2] is not None) for row in written] == list(_KEY_MIGRATION_ROWS)
    assert at_head == written, f"rows changed by the upgrade: {written} -> {at_head}"
    assert undone == written, f"rows changed by the downgrade: {written} -> {undone}"
    head = result.at_head
    assert set(head.definitions) == _PARTIAL_INDEXES | {"pk_outbox"}, head.definitions
    assert head.definitions["pk_outbox"].endswith("USING btree (seq)"), head.definitions
    assert "ix_outbox_unpublished" in head.read, head.read
    assert "pk_outbox" in head.mark, head.mark
    assert "ix_outbox_published_at" in head.purge, head.purge
    old = result.undone.definitions
    assert set(old) == _PARTIAL_INDEXES | {"pk_outbox", "uq_outbox_seq"}, old
    assert old["pk_outbox"].endswith("USING btree (id)"), old
    assert old["uq_outbox_seq"].endswith("USING btree (seq)"), old


async def _write_outbox_rows(conn: AsyncConnection, schema: str) -> None:
    """`_KEY_MIGRATION_ROWS`, with the columns every version of the outbox has."""
    insert = text(
        f'INSERT INTO "{schema}".outbox (id, aggregatetype, aggregateid, type, topic, source,'  # noqa: S608 - a test's own schema
        " occurred_at, payload, published_at) VALUES (:id, 'AccountRegistered', 'a1',"
        " 'dunlin.account.registered.v1', 'invoicing.events', '/tests', now(), '{}',"
        " CASE WHEN :published THEN now() END)"
    )
    rows = [{"id": event_id, "published": published} for event_id, published in _KEY_MIGRATION_ROWS]
    await conn.execute(insert, rows)


async def _outbox_rows(engine: AsyncEngine, schema: str) -> list[tuple[Any, ...]]:
    query = f'SELECT id, seq, published_at FROM "{schema}".outbox ORDER BY seq'  # noqa: S608
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(query))]


async def _upgrade_to_before(alembic_ini: Path, database_url: str, revision: str) -> str:
    """Migrate to the revision `revision` follows, and return that revision."""
    before = _alembic_script(alembic_ini).get_revision(revision).down_revision
    assert isinstance(before, str), f"{revision} must follow exactly one revision"
    await asyncio.to_thread(
        upgrade, alembic_ini=alembic_ini, database_url=database_url, revision=before
    )
    return before


def _alembic_script(alembic_ini: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(alembic_ini))


def _downgrade(alembic_ini: Path, database_url: str, revision: str) -> None:
    """`migrations.upgrade`'s counterpart, for tests only (services never migrate down)."""
    command.downgrade(alembic_config(alembic_ini, database_url), revision)


# (consumer, event id) rows written before the inbox key migration.
_INBOX_ROWS = [("c1", "e1"), ("c1", "e2"), ("c2", "e1")]


class InboxKeyMigration(NamedTuple):
    """What `inbox_key_migration` read: the inbox's key constraints and rows at each point."""

    drift: list[Any]
    model: dict[str, str]  # constraint name -> definition, of the model's own inbox table
    at_head: dict[str, str]
    undone: dict[str, str]
    rows: list[list[tuple[str, str]]]  # before, at head, after the downgrade
    refused: str | None  # SQLSTATE of inserting a claimed (consumer, id) again at head


async def inbox_constraints(conn: AsyncConnection, schema: str) -> dict[str, str]:
    """The inbox's primary key, unique and exclusion constraints: name -> definition."""
    rows = await conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u', 'x')"
        ),
        {"table": f'"{schema}".inbox'},
    )
    return {str(name): str(definition) for name, definition in rows.all()}


async def _model_inbox_constraints(engine: AsyncEngine, metadata: MetaData) -> dict[str, str]:
    """The constraints `create_all` gives the model's inbox, in a schema of its own."""
    schema = f"{metadata.schema}_model"
    alone = MetaData(schema=schema)
    metadata.tables[f"{metadata.schema}.inbox"].to_metadata(alone, schema=schema)
    await create_schema(engine, alone)
    try:
        async with engine.connect() as conn:
            return await inbox_constraints(conn, schema)
    finally:
        await drop_schema(engine, schema)


async def _inbox_rows(engine: AsyncEngine, schema: str) -> list[tuple[str, str]]:
    query = f'SELECT consumer, event_id FROM "{schema}".inbox ORDER BY 1, 2'  # noqa: S608
    async with engine.connect() as conn:
        return [(str(row[0]), str(row[1])) for row in await conn.execute(text(query))]


async def _insert_again(engine: AsyncEngine, schema: str) -> str | None:
    """Insert a claimed (consumer, id) again: the SQLSTATE it is refused with, None if not."""
    insert = text(f"INSERT INTO \"{schema}\".inbox (consumer, event_id) VALUES ('c1', 'e1')")  # noqa: S608
    try:
        async with engine.begin() as conn:
            await conn.execute(insert)
    except IntegrityError as exc:
        return sqlstate_of(exc)
    return None


async def inbox_key_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> InboxKeyMigration:
    """Migrate an empty database to just before `revision` (each service's
    `0NNN_inbox_hash_key`), write inbox rows, migrate to head, then undo `revision`, reading
    the inbox's constraints and rows at each point."""
    schema = str(metadata.schema)
    before = await _upgrade_to_before(alembic_ini, database_url, revision)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(f'INSERT INTO "{schema}".inbox (consumer, event_id) VALUES (:c, :e)'),  # noqa: S608
                [{"c": consumer, "e": event_id} for consumer, event_id in _INBOX_ROWS],
            )
        rows = [await _inbox_rows(engine, schema)]
        await asyncio.to_thread(upgrade, alembic_ini=alembic_ini, database_url=database_url)
        async with engine.connect() as conn:
            drift = await conn.run_sync(schema_drift, metadata, schema)
            at_head = await inbox_constraints(conn, schema)
        refused = await _insert_again(engine, schema)
        rows.append(await _inbox_rows(engine, schema))
        await asyncio.to_thread(_downgrade, alembic_ini, database_url, before)
        async with engine.connect() as conn:
            undone = await inbox_constraints(conn, schema)
        rows.append(await _inbox_rows(engine, schema))
        model = await _model_inbox_constraints(engine, metadata)
    finally:
        await engine.dispose()
    return InboxKeyMigration(drift, model, at_head, undone, rows, refused)


async def check_inbox_key_migration(
    database_url: str, *, alembic_ini: Path, metadata: MetaData, revision: str
) -> None:
    """`inbox_key_migration`, failing (AssertionError) unless the models match the
    migrations, the migrated inbox has exactly the model's key (the hash exclusion
    constraint, which refuses a claimed id again with 23P01), the rows survive both ways,
    and undoing `revision` gives back the primary key: every service runs it on its own
    migration."""
    result = await inbox_key_migration(
        database_url, alembic_ini=alembic_ini, metadata=metadata, revision=revision
    )
    assert result.drift == [], f"models and migrations differ: {result.drift}"
    assert result.at_head == result.model, f"migrated {result.at_head}, model {result.model}"
    assert set(result.at_head) == {"ex_inbox_consumer_event_id"}, result.at_head
    assert "USING hash" in result.at_head["ex_inbox_consumer_event_id"], result.at_head
    assert result.refused == "23P01", result.refused
    written, at_head, undone = result.rows
    assert written == sorted(_INBOX_ROWS), written
    assert at_head == written, f"rows changed by the upgrade: {written} -> {at_head}"
    assert undone == written, f"rows changed by the downgrade: {written} -> {undone}"
    assert result.undone == {"pk_inbox": "PRIMARY KEY (consumer, event_id)"}, result.undone
