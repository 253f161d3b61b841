"""Helpers for tests that need a service-shaped schema without a service's migrations."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

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
