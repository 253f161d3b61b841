"""The real invoicing app on a fresh database and a real broker, shared by the session."""

from __future__ import annotations

import asyncio
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
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from invoicing.app import create_app
from invoicing.config import InvoicingSettings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ALL_SCOPES = ["accounts:read", "accounts:write", "invoices:read", "invoices:write"]


@pytest.fixture(scope="session", autouse=True)
def _recording_tracer() -> None:
    """Record spans (without exporting) so traceparent headers exist, as in production."""
    trace.set_tracer_provider(TracerProvider())


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def erp_topic(kafka_bootstrap_servers: str) -> str:
    """A private erp.invoices for this session, its DLQ, and the shared invoicing.events."""
    name = f"{topics.ERP_INVOICES}.{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        kafka_bootstrap_servers,
        [name, topics.dlq_topic(name), topics.INVOICING_EVENTS, topics.PAYMENTS_EVENTS],
        partitions=3,
    )
    return name


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(
    database_url: str, kafka_bootstrap_servers: str, erp_topic: str
) -> InvoicingSettings:
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database_url)
    await auth.migrate(database_url)
    return InvoicingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        erp_invoices_topic=erp_topic,
        environment="test",
        log_format="text",
        consumer_poll_timeout_ms=100,
        outbox_poll_interval_s=0.5,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: InvoicingSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
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
    return await new_api_key(sessionmaker, ["accounts:read", "invoices:read"])


@pytest_asyncio.fixture(loop_scope="session")
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "invoicing") as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, "invoicing", api_key) as client:
        yield client
