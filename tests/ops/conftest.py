"""Fixtures of the operations checks: the real services, scraped as Prometheus would."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from dunlin_devstack.broker import ensure_topics, platform_topics
from dunlin_devstack.clients import asgi_client, new_api_key
from dunlin_events import topics
from dunlin_platform import auth
from dunlin_platform.config import ServiceSettings
from dunlin_platform.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]
_WAIT_S = 60.0


def sample_names(exposition: str) -> set[str]:
    """Every sample name in a Prometheus text exposition (`_total`, `_bucket`... included)."""
    return {s.name for family in text_string_to_metric_families(exposition) for s in family.samples}


async def _drive_traffic(inv: httpx.AsyncClient, bootstrap: str) -> None:
    """Requests and events that make every exported family show up at least once."""
    from aiokafka import AIOKafkaProducer

    suffix = uuid.uuid4().hex[:8]
    account = await inv.post(
        "/accounts",
        json={
            "name": "Metrics GmbH",
            "external_id": f"M-{suffix}",
            "currency": "EUR",
            "payment_terms": {"kind": "net", "days": 30},
        },
    )
    assert account.status_code == 201, account.text
    invoice = await inv.post(  # an overdue invoice, for the AR aging gauge
        "/invoices",
        json={
            "account_id": account.json()["id"],
            "invoice_number": f"M-{suffix}",
            "currency": "EUR",
            "issue_date": "2020-01-01",
            "lines": [{"description": "x", "quantity": "1", "unit_price": "10", "tax_rate": "0"}],
        },
    )
    assert invoice.status_code == 201, invoice.text
    assert (await inv.get("/accounts/does-not-exist")).status_code in {404, 422}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:  # not a CloudEvent: dead-lettered, so the DLQ counter exists
        await producer.send_and_wait(topics.ERP_INVOICES, b"garbage", key=suffix.encode())
    finally:
        await producer.stop()


SERVICES = ("invoicing", "payments", "dunning", "notifications", "risk")
# Clock-driven sweeps off: the scrape needs the apps, not their timers.
_OVERRIDES: dict[str, dict[str, Any]] = {
    "invoicing": {"overdue_sweep_interval_s": 0, "ar_metrics_interval_s": 0.5},
    "payments": {"plan_sweep_interval_s": 3600, "pending_gauge_interval_s": 0.5},
}


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.config")
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    assert len(classes) == 1, f"{service}.config: one settings class expected"
    return classes[0]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def exposition(database_url: str, kafka_bootstrap_servers: str) -> str:
    """/metrics of every service app running in-process on the real database and broker."""
    await ensure_topics(kafka_bootstrap_servers, platform_topics(), partitions=3)
    for service in SERVICES:
        ini = ROOT / "services" / service / "alembic.ini"
        await asyncio.to_thread(upgrade, alembic_ini=ini, database_url=database_url)
    await auth.migrate(database_url)
    common: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "environment": "test",
        "log_format": "text",
        "consumer_poll_timeout_ms": 100,
        "outbox_poll_interval_s": 0.5,
    }
    apps = []
    for service in SERVICES:
        settings = _settings_class(service)(**common, **_OVERRIDES.get(service, {}))
        apps.append(importlib.import_module(f"{service}.app").create_app(settings))
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        invoicing = apps[0]
        key = await new_api_key(invoicing.state.sessionmaker, ["*"], name="ops-metrics")
        async with asgi_client(invoicing, "invoicing", key) as inv:
            await _drive_traffic(inv, kafka_bootstrap_servers)
            return await _scrape_until_complete(inv)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def exported_metrics(exposition: str) -> set[str]:
    """Sample names exported (`_total`, `_bucket`... included).

    One process, one Prometheus registry: every app's /metrics shows the instruments of all.
    """
    return {s.name for family in text_string_to_metric_families(exposition) for s in family.samples}


@pytest.fixture(scope="session")
def exported_labels(exposition: str) -> dict[str, set[str]]:
    """Label names seen per exported sample name."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


# What the running services must have exported before the scrape is taken.
SETTLED = frozenset(
    {
        "dunlin_dead_letters_total",
        "dunlin_consumer_lag",
        "dunlin_outbox_published_total",
        "dunlin_outbox_backlog",
        "dunlin_consumer_batch_size_bucket",
        "dunlin_payments_pending",
        "dunlin_ar_aging_amount",
    }
)


async def _scrape_until_complete(client: httpx.AsyncClient) -> str:
    text = ""
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        text = (await client.get("/metrics")).text
        if sample_names(text) >= SETTLED:
            break
        await asyncio.sleep(0.5)
    return text  # the tests report which families never appeared
