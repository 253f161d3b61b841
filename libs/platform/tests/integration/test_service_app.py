"""A service app assembled by the platform: health, readiness, auth and the metrics it exports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI

from dunlin_events.topics import dlq_topic
from dunlin_platform.app import create_service_app
from dunlin_platform.auth import create_api_key, migrate

from .conftest import (
    Harness,
    account_registered,
    create_topics,
    eventually,
    produce,
    produce_raw,
    record_of,
    unique_topic,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def hello_router() -> APIRouter:
    router = APIRouter()

    @router.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return router


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    harness: Harness, kafka_bootstrap_servers: str, database_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str, Any]]:
    await migrate(database_url)
    topic = unique_topic("app")
    await create_topics(kafka_bootstrap_servers, topic, dlq_topic(topic))
    runtime = harness.runtime(topics=[topic])
    app = create_service_app(
        runtime, title="test", description="test", version="0", routers=[hello_router()]
    )
    async with runtime.sessionmaker() as session, session.begin():
        _, key = await create_api_key(session=session, name="t", scopes=["*"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield app, client, topic, key


async def test_health_needs_no_key_and_readiness_sees_database_and_broker(served: Any) -> None:
    _, client, _, _ = served
    assert (await client.get("/healthz")).json() == {"status": "ok"}

    async def ready() -> bool:
        return bool((await client.get("/readyz")).status_code == 200)

    await eventually(ready, what="readiness")
    body = (await client.get("/readyz")).json()
    assert body["checks"] == {"database": "ok", "broker": "ok"}


async def test_every_other_route_requires_an_api_key(served: Any) -> None:
    _, client, _, key = served
    refused = await client.get("/hello")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    allowed = await client.get("/hello", headers={"Authorization": f"Bearer {key}"})
    assert allowed.json() == {"hello": "world"}


async def test_metrics_export_lag_batch_sizes_dead_letters_and_outbox_backlog(
    served: Any, harness: Harness, kafka_bootstrap_servers: str
) -> None:
    app, client, topic, _ = served
    runtime = app.state.runtime
    await produce(kafka_bootstrap_servers, topic, [record_of(account_registered("acc-m"))])
    await produce_raw(kafka_bootstrap_servers, topic, b"garbage", [], b"acc-m")
    async with runtime.sessionmaker() as session, session.begin():
        await runtime.outbox.add(session, account_registered(f"{harness.schema}-m"))

    async def exported() -> bool:
        # The metrics are the process's: earlier tests' consumers may have exported these
        # names already, so this test's own topic must show too (its lag is recorded every
        # few seconds by the poller).
        text = (await client.get("/metrics")).text
        return f'topic="{topic}"' in text and all(
            name in text
            for name in (
                "dunlin_consumer_batch_size",
                "dunlin_consumer_lag",
                "dunlin_dead_letters",
                "dunlin_outbox_backlog",
                "dunlin_outbox_published",
            )
        )

    await eventually(exported, within=30, what="the platform metrics on /metrics")
