"""The real dunning app on a fresh database and a real broker, shared by the session."""

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
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack import databases
from dunlin_devstack.broker import ensure_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_events import topics
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from dunning.app import create_app
from dunning.config import DunningSettings
from dunning.db import PLATFORM_TABLES

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ALL_SCOPES = ["dunning:read", "dunning:write", "admin"]


@pytest.fixture(scope="session", autouse=True)
def _recording_tracer() -> None:
    trace.set_tracer_provider(TracerProvider())


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """The app's clock; tests only move it forward."""
    return ManualClock(dt.datetime(2025, 6, 2, 6, 0, tzinfo=dt.UTC))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(database_url: str, kafka_bootstrap_servers: str) -> DunningSettings:
    suffix = uuid.uuid4().hex[:8]
    inbound = {
        name: f"{base}.{suffix}"
        for name, base in [
            ("invoicing", topics.INVOICING_EVENTS),
            ("payments", topics.PAYMENTS_EVENTS),
            ("risk", topics.RISK_EVENTS),
            ("notifications", topics.NOTIFICATIONS_EVENTS),
        ]
    }
    names = list(inbound.values())
    await ensure_topics(
        kafka_bootstrap_servers, names + [topics.dlq_topic(n) for n in names], partitions=3
    )
    await ensure_topics(kafka_bootstrap_servers, [topics.DUNNING_EVENTS], partitions=3)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database_url)
    await auth.migrate(database_url)
    return DunningSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        invoicing_events_topic=inbound["invoicing"],
        payments_events_topic=inbound["payments"],
        risk_events_topic=inbound["risk"],
        notifications_events_topic=inbound["notifications"],
        environment="test",
        log_format="text",
        consumer_poll_timeout_ms=100,
        outbox_poll_interval_s=0.5,
        sweep_interval_s=3600,  # tests sweep through POST /admin/dunning-sweep
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: DunningSettings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime.sessionmaker


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api_key(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    return await new_api_key(sessionmaker, ALL_SCOPES)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "dunning", api_key) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def own_runtime(
    dunlin_postgres_server: str, kafka_bootstrap_servers: str
) -> AsyncIterator[ServiceRuntime]:
    """A runtime on a fresh database of its own (run_relay=False): sees only the test's rows."""
    name = f"dunlin_test_{uuid.uuid4().hex[:12]}"
    await databases.ensure_database(dunlin_postgres_server, name)
    url = databases.with_database(dunlin_postgres_server, name)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url)
    settings = DunningSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        environment="test",
        log_format="text",
    )
    rt = ServiceRuntime(
        settings,
        tables=PLATFORM_TABLES,
        clock=ManualClock(dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)),
        run_relay=False,
    )
    try:
        yield rt
    finally:
        await rt.stop()
        await databases.drop_database(dunlin_postgres_server, name)
