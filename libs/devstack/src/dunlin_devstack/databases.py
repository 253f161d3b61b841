"""Create and drop databases on any PostgreSQL server given by a SQLAlchemy URL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url


def with_database(url: str, database: str) -> str:
    """Return `url` pointing at `database` instead."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def asyncpg_url(url: str) -> str:
    """Return `url` with the asyncpg driver; `postgres://` and `postgresql://` are accepted."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


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


@contextlib.asynccontextmanager
async def scratch_database(url: str, prefix: str = "dunlin_scratch") -> AsyncIterator[str]:
    """A new empty database on the server of `url` (its URL is yielded), dropped afterwards:
    for tests that migrate a database of their own (up and down) beside the session's."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await ensure_database(url, name)
    try:
        yield with_database(url, name)
    finally:
        await drop_database(url, name)
