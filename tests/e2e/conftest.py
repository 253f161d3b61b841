"""Invoicing and payments running together on one database and broker, as in production.

This suite runs in its own pytest session (see the Makefile): the services consume the
fixed platform topics, which the services' own test suites also use.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from dunlin_devstack.broker import ensure_topics, platform_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Platform:
    """Both services' HTTP clients and the shared clock."""

    invoicing: httpx.AsyncClient
    payments: httpx.AsyncClient
    clock: ManualClock
    bootstrap: str


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC))


async def _prepare(database_url: str, bootstrap: str) -> str:
    await ensure_topics(bootstrap, platform_topics(), partitions=3)
    for service in ("invoicing", "payments"):
        ini = ROOT / "services" / service / "alembic.ini"
        await asyncio.to_thread(upgrade, alembic_ini=ini, database_url=database_url)
    await auth.migrate(database_url)
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(database_url)
    try:
        return await new_api_key(async_sessionmaker(engine), ["*"], name="e2e")
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(
    database_url: str, kafka_bootstrap_servers: str, clock: ManualClock
) -> AsyncIterator[Platform]:
    from invoicing.app import create_app as invoicing_app
    from invoicing.config import InvoicingSettings
    from payments.app import create_app as payments_app
    from payments.config import PaymentsSettings

    key = await _prepare(database_url, kafka_bootstrap_servers)
    common: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "environment": "test",
        "log_format": "text",
        "consumer_poll_timeout_ms": 100,
        "outbox_poll_interval_s": 0.5,
    }
    invoicing = invoicing_app(InvoicingSettings(**common, overdue_sweep_interval_s=0), clock=clock)
    payments = payments_app(PaymentsSettings(**common, plan_sweep_interval_s=3600), clock=clock)
    async with (
        invoicing.router.lifespan_context(invoicing),
        payments.router.lifespan_context(payments),
        asgi_client(invoicing, "invoicing", key) as inv,
        asgi_client(payments, "payments", key) as pay,
    ):
        yield Platform(inv, pay, clock, kafka_bootstrap_servers)
