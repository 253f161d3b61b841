"""The real payments app on a fresh database and a real broker, shared by the session."""

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

from dunlin_devstack.broker import ensure_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_events import topics
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from payments.app import create_app
from payments.config import PaymentsSettings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ALL_SCOPES = ["payments:read", "payments:write", "admin"]


@pytest.fixture(scope="session", autouse=True)
def _recording_tracer() -> None:
    """Record spans (without exporting) so traceparent headers exist, as in production."""
    trace.set_tracer_provider(TracerProvider())


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """The app's clock; tests only move it forward."""
    return ManualClock(dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(database_url: str, kafka_bootstrap_servers: str) -> PaymentsSettings:
    suffix = uuid.uuid4().hex[:8]
    invoicing, erp = f"{topics.INVOICING_EVENTS}.{suffix}", f"{topics.ERP_PAYMENTS}.{suffix}"
    await ensure_topics(
        kafka_bootstrap_servers,
        [invoicing, erp, topics.dlq_topic(erp), topics.dlq_topic(invoicing)],
        partitions=3,
    )
    await ensure_topics(kafka_bootstrap_servers, [topics.PAYMENTS_EVENTS], partitions=3)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database_url)
    await auth.migrate(database_url)
    return PaymentsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        invoicing_events_topic=invoicing,
        erp_payments_topic=erp,
        environment="test",
        log_format="text",
        consumer_poll_timeout_ms=100,
        outbox_poll_interval_s=0.5,
        plan_sweep_interval_s=3600,  # tests sweep through POST /admin/plan-sweep
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: PaymentsSettings, clock: ManualClock) -> AsyncIterator[FastAPI]:
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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def read_only_key(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    return await new_api_key(sessionmaker, ["payments:read"])


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "payments", api_key) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def reader(app: FastAPI, read_only_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "payments", read_only_key) as client:
        yield client
