"""A second invoicing app on the session's database whose clock the test moves."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from dunlin_devstack.broker import ensure_topics
from dunlin_platform import auth
from dunlin_platform.clock import ManualClock
from dunlin_platform.runtime import ServiceRuntime
from invoicing.app import create_app
from invoicing.config import InvoicingSettings

SCOPES = ["accounts:write", "accounts:read", "invoices:write", "invoices:read", "admin",
          "reports:read"]  # fmt: skip


@asynccontextmanager
async def clocked_app(
    settings: InvoicingSettings, start: dt.datetime
) -> AsyncIterator[tuple[FastAPI, ManualClock, httpx.AsyncClient]]:
    """The app with a ManualClock, its own consumer groups and no background sweep."""
    suffix = uuid.uuid4().hex[:8]
    topics = [
        f"{settings.erp_invoices_topic}.{suffix}",
        f"{settings.payments_events_topic}.{suffix}",
    ]
    await ensure_topics(settings.kafka_bootstrap_servers, topics, partitions=1)
    private = settings.model_copy(
        update={
            # Own consumer groups and topics, so the session's app is never rebalanced.
            "service_name": f"invoicing-clocked-{suffix}",
            "db_schema": "invoicing",
            "erp_invoices_topic": topics[0],
            "payments_events_topic": topics[1],
            "overdue_sweep_interval_s": 0,
        }
    )
    clock = ManualClock(start)
    app = create_app(private, clock=clock)
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    async with app.router.lifespan_context(app):
        async with runtime.sessionmaker() as session, session.begin():
            _, key = await auth.create_api_key(
                session=session, name=f"clocked-{suffix}", scopes=SCOPES
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://invoicing",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield app, clock, client
