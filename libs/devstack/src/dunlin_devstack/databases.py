"""Create and drop databases on any PostgreSQL server given by a SQLAlchemy URL."""

from __future__ import annotations

import contextlib

import asyncpg
from sqlalchemy.engine import make_url


def with_database(url: str, database: str) -> str:
    """Return `url` pointing at `database` instead."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """Return the plain `postgresql://` form of a SQLAlchemy URL (for asyncpg and psql)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str) -> asyncpg.Connection:
    # The maintenance database exists on every server.
    return await asyncpg.connect(libpq_url(with_database(url, "postgres")), timeout=10)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str, name: str) -> None:
    """Create database `name` on the server of `url` unless it exists."""
    conn = await _admin(url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # A concurrent caller may win the race; the database exists either way.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {_quote(name)}")
    finally:
        await conn.close()


async def drop_database(url: str, name: str) -> None:
    """Drop database `name` on the server of `url`, disconnecting its sessions."""
    conn = await _admin(url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await conn.close()
