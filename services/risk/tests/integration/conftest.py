"""The real risk app on a fresh database and a real broker, shared by the session."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.broker import ensure_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_events import topics
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade
from risk.app import create_app
from risk.config import RiskSettings
from risk.runtime import RiskRuntime

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ALL_SCOPES = ["risk:read", "risk:write", "admin"]


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """The app's clock; tests only move it forward."""
    return ManualClock(dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(database_url: str, kafka_bootstrap_servers: str) -> RiskSettings:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "invoicing_events_topic": f"{topics.INVOICING_EVENTS}.{suffix}",
        "payments_events_topic": f"{topics.PAYMENTS_EVENTS}.{suffix}",
        "dunning_events_topic": f"{topics.DUNNING_EVENTS}.{suffix}",
        "risk_signals_topic": f"{topics.RISK_SIGNALS}.{suffix}",
    }
    created = [*names.values(), *(topics.dlq_topic(t) for t in names.values())]
    await ensure_topics(kafka_bootstrap_servers, [*created, topics.RISK_EVENTS], partitions=3)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database_url)
    await auth.migrate(database_url)
    return RiskSettings.model_validate(
        {
            "database_url": database_url,
            "kafka_bootstrap_servers": kafka_bootstrap_servers,
            "environment": "test",
            "log_format": "text",
            "consumer_poll_timeout_ms": 100,
            "outbox_poll_interval_s": 0.5,
            "model_refresh_interval_s": 3600,  # tests refresh explicitly
            **names,
        }
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: RiskSettings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def runtime(app: FastAPI) -> RiskRuntime:
    runtime = app.state.runtime
    assert isinstance(runtime, RiskRuntime)
    return runtime


@pytest.fixture(scope="session")
def sessionmaker(runtime: RiskRuntime) -> async_sessionmaker[AsyncSession]:
    return runtime.sessionmaker


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api_key(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    return await new_api_key(sessionmaker, ALL_SCOPES)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "risk", api_key) as client:
        yield client
