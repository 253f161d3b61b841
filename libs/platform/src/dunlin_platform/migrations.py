"""Alembic plumbing shared by every service: one schema and one history per service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from dunlin_platform.outbox import outbox_trigger_ddl


def run_env(target_metadata: MetaData) -> None:
    """The body of a service's alembic/env.py (online migrations on asyncpg)."""
    schema = target_metadata.schema
    assert schema, "service metadata must name its schema"
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by dunlin_platform.migrations.upgrade"

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            # Compare the service's own schema only, so autogenerate/`alembic check` see drift.
            include_schemas=True,
            include_name=lambda name, type_, _: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        await engine.dispose()

    asyncio.run(main())


def alembic_config(alembic_ini: Path, database_url: str = "") -> Config:
    """A service's Alembic configuration: its `alembic/` beside `alembic_ini`, the database URL."""
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(*, alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    """Apply a service's migrations (blocking; run it outside an event loop)."""
    command.upgrade(alembic_config(alembic_ini, database_url), revision)


def create_outbox_trigger(op: Operations, schema: str) -> None:
    """Migration step: make outbox inserts wake the relay."""
    for statement in outbox_trigger_ddl(schema):
        op.execute(statement)


def inbox_hash_key(op: Operations, schema: str) -> None:
    """Migration step (every service's `inbox_hash_key` revision): the inbox's key becomes an
    exclusion constraint over a hash index (`dunlin_platform.inbox.KEY_DDL`) instead of the
    btree primary key on (consumer, event_id).

    Spelled out here rather than read from the model: a migration keeps doing what it did
    when it was written. One statement, so one ACCESS EXCLUSIVE lock while the hash index
    is built (the inbox is one short row per consumed event).
    """
    op.execute(
        f'ALTER TABLE "{schema}".inbox DROP CONSTRAINT pk_inbox,'
        " ADD CONSTRAINT ex_inbox_consumer_event_id"
        " EXCLUDE USING hash ((consumer || E'\\x1f' || event_id) WITH =)"
    )


def inbox_primary_key(op: Operations, schema: str) -> None:
    """`inbox_hash_key` undone: the btree primary key on (consumer, event_id) again."""
    op.execute(
        f'ALTER TABLE "{schema}".inbox DROP CONSTRAINT ex_inbox_consumer_event_id,'
        " ADD CONSTRAINT pk_inbox PRIMARY KEY (consumer, event_id)"
    )
