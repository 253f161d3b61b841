"""The real notifications app on a fresh database, a real broker, an SMTP sink and HTTP fakes."""

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
from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.mailsink import MailSink
from dunlin_events import topics
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from notifications.app import create_app
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ALL_SCOPES = ["notifications:read", "notifications:write"]


@pytest.fixture(scope="session", autouse=True)
def _recording_tracer() -> None:
    trace.set_tracer_provider(TracerProvider())


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """11:00 in Berlin: outside quiet hours there; tests only move it forward."""
    return ManualClock(dt.datetime(2026, 11, 10, 10, 0, tzinfo=dt.UTC))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mailsink() -> AsyncIterator[MailSink]:
    sink = MailSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fakes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakeProviders]:
    providers = FakeProviders(folder=tmp_path_factory.mktemp("fakes"))
    await providers.start()
    yield providers
    await providers.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(
    database_url: str,
    kafka_bootstrap_servers: str,
    mailsink: MailSink,
    fakes: FakeProviders,
    tmp_path_factory: pytest.TempPathFactory,
) -> NotificationsSettings:
    suffix = uuid.uuid4().hex[:8]
    dunning, invoicing = f"{topics.DUNNING_EVENTS}.{suffix}", f"{topics.INVOICING_EVENTS}.{suffix}"
    await ensure_topics(
        kafka_bootstrap_servers,
        [dunning, invoicing, topics.dlq_topic(dunning), topics.dlq_topic(invoicing)],
        partitions=3,
    )
    await ensure_topics(kafka_bootstrap_servers, [topics.NOTIFICATIONS_EVENTS], partitions=3)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database_url)
    await auth.migrate(database_url)
    return NotificationsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        dunning_events_topic=dunning,
        invoicing_events_topic=invoicing,
        environment="test",
        log_format="text",
        consumer_poll_timeout_ms=100,
        outbox_poll_interval_s=0.5,
        smtp_port=mailsink.port,
        sms_api_url=fakes.sms_api_url,
        voice_api_url=fakes.sms_api_url,
        agency_api_url=fakes.agency_api_url,
        letters_dir=tmp_path_factory.mktemp("letters"),
        pdf_workers=0,
        public_base_url="http://notifications",
        retry_base_s=60,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: NotificationsSettings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    # The tests drive the worker round by round: no timing, no sleeps.
    application = create_app(settings, clock=clock, run_worker=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def worker(app: FastAPI) -> DeliveryWorker:
    found = app.state.worker
    assert isinstance(found, DeliveryWorker)
    return found


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
    async with asgi_client(app, "notifications", api_key) as client:
        yield client
