"""Every Dunlin service running together on one database and broker, as in production.

This suite runs in its own pytest session (see the Makefile): the services consume the
fixed platform topics, which the services' own test suites also use. Their spans are
exported over OTLP to a small receiver, as they would be to a collector; in one process
they share one tracer provider, so one resource (the first service's) names them all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from dunlin_devstack.broker import ensure_topics, platform_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.mailsink import MailSink
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade

from .otlp import Receiver, otlp_receiver

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("invoicing", "payments", "dunning", "notifications", "risk")


@dataclass
class Platform:
    """The services' HTTP clients, the shared clock, the mail sink and the span receiver."""

    invoicing: httpx.AsyncClient
    payments: httpx.AsyncClient
    dunning: httpx.AsyncClient
    notifications: httpx.AsyncClient
    risk: httpx.AsyncClient
    clock: ManualClock
    bootstrap: str
    mail: MailSink
    spans: Receiver


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC))


async def _prepare(database_url: str, bootstrap: str) -> str:
    await ensure_topics(bootstrap, platform_topics(), partitions=3)
    for service in SERVICES:
        ini = ROOT / "services" / service / "alembic.ini"
        await asyncio.to_thread(upgrade, alembic_ini=ini, database_url=database_url)
    await auth.migrate(database_url)
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(database_url)
    try:
        return await new_api_key(async_sessionmaker(engine), ["*"], name="e2e")
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def spans() -> Iterator[Receiver]:
    with otlp_receiver() as receiver:
        yield receiver
        flush_spans()  # before the receiver goes: the services are stopped by now


def flush_spans() -> None:
    """Export every span ended so far (the batch processor otherwise waits seconds)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mail() -> AsyncIterator[MailSink]:
    sink = MailSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def providers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FakeProviders]:
    fakes = FakeProviders(folder=tmp_path_factory.mktemp("providers"))
    await fakes.start()
    yield fakes
    await fakes.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(
    database_url: str,
    kafka_bootstrap_servers: str,
    clock: ManualClock,
    spans: Receiver,
    mail: MailSink,
    providers: FakeProviders,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Platform]:
    from dunning.app import create_app as dunning_app
    from dunning.config import DunningSettings
    from invoicing.app import create_app as invoicing_app
    from invoicing.config import InvoicingSettings
    from notifications.app import create_app as notifications_app
    from notifications.config import NotificationsSettings
    from payments.app import create_app as payments_app
    from payments.config import PaymentsSettings
    from risk.app import create_app as risk_app
    from risk.config import RiskSettings

    key = await _prepare(database_url, kafka_bootstrap_servers)
    common: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "environment": "test",
        "log_format": "text",
        "consumer_poll_timeout_ms": 100,
        "outbox_poll_interval_s": 0.5,
        "otel_exporter_otlp_endpoint": spans.url,
        "otel_metrics_exporter": "none",
    }
    invoicing = invoicing_app(InvoicingSettings(**common, overdue_sweep_interval_s=0), clock=clock)
    payments = payments_app(PaymentsSettings(**common, plan_sweep_interval_s=3600), clock=clock)
    # Tests run the dunning sweep through its admin endpoint, step by step.
    dunning = dunning_app(DunningSettings(**common, sweep_interval_s=3600), clock=clock)
    notifications = notifications_app(
        NotificationsSettings(
            **common,
            smtp_port=mail.port,
            sms_api_url=providers.sms_api_url,
            voice_api_url=providers.sms_api_url,
            agency_api_url=providers.agency_api_url,
            letters_dir=tmp_path_factory.mktemp("letters"),
            worker_interval_s=0.2,
        ),
        clock=clock,
    )
    risk = risk_app(RiskSettings(**common), clock=clock)
    async with (
        invoicing.router.lifespan_context(invoicing),
        payments.router.lifespan_context(payments),
        dunning.router.lifespan_context(dunning),
        notifications.router.lifespan_context(notifications),
        risk.router.lifespan_context(risk),
        asgi_client(invoicing, "invoicing", key) as inv,
        asgi_client(payments, "payments", key) as pay,
        asgi_client(dunning, "dunning", key) as dun,
        asgi_client(notifications, "notifications", key) as ntf,
        asgi_client(risk, "risk", key) as rsk,
    ):
        yield Platform(inv, pay, dun, ntf, rsk, clock, kafka_bootstrap_servers, mail, spans)
