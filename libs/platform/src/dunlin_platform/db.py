"""Async SQLAlchemy engine and sessions on asyncpg."""

from __future__ import annotations

from typing import cast

import asyncpg
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from dunlin_platform.config import ServiceSettings
from dunlin_platform.outbox import APP_CONNECTION_SETTING

# Deterministic constraint names keep Alembic migrations reviewable and reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """MetaData for one service: every table lives in that service's own schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(settings: ServiceSettings, *, pool_size: int | None = None) -> AsyncEngine:
    """Build the service's engine; connections are opened lazily, never at import."""
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # No pre-ping: it costs a round trip per checkout; a dropped connection is invalidated
        # on first use and the caller's retry (consumer backoff, HTTP client) gets a fresh one.
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "application_name": settings.kafka_client_id,
                APP_CONNECTION_SETTING: "app",
            }
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def transaction_driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction, begun if it was not.

    For what SQLAlchemy cannot send (COPY). Its asyncpg adapter sends BEGIN with the
    transaction's first statement: a COPY sent before any would commit on its own, so a
    session that has run none runs one.
    """
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    driver = cast("asyncpg.Connection", pooled.driver_connection)
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver
