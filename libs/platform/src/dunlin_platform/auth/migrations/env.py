"""Alembic environment for the `auth` schema; expects a connection in config.attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dunlin_platform.auth.models import AUTH_SCHEMA, metadata


def run_migrations_online() -> None:
    """Upgrade on the connection handed over by dunlin_platform.auth.migrate."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run auth migrations with `dunlin-apikey migrate` or auth.migrate()")
    # The version table lives in the schema, so the schema must exist first.
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{AUTH_SCHEMA}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="alembic_version",
        version_table_schema=AUTH_SCHEMA,
        include_schemas=True,
        include_name=lambda name, type_, _parent: type_ != "schema" or name == AUTH_SCHEMA,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not supported for the auth schema")
run_migrations_online()
