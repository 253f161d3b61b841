"""Traces continue through Kafka: each consumed message is processed in its own span, and what
an account publishes continues the trace of the message that changed it."""

from __future__ import annotations

import dataclasses
import secrets

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import encode, new_envelope
from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES

from .support import account, eventually, publish


async def test_assessments_continue_the_trace_of_the_message_in_a_processing_span(
    settings: RiskSettings,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    acc = account()
    trace_id = secrets.token_hex(16)
    producer_span = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    # A first score is always published, whatever model is active.
    envelope = dataclasses.replace(
        new_envelope(acc, source="/dunlin/invoicing"), traceparent=producer_span
    )
    await publish(
        settings.kafka_bootstrap_servers, settings.invoicing_events_topic, encode(envelope)
    )
    outbox = PLATFORM_TABLES.outbox
    found: list[str] = []

    async def traced_assessment() -> bool:
        query = select(outbox.c.tracingspancontext).where(
            outbox.c.aggregateid == acc.account_id, outbox.c.aggregatetype == "RiskAssessed"
        )
        async with sessionmaker() as session:
            found[:] = [tp for tp in (await session.scalars(query)).all() if tp]
        return any(tp.split("-")[1] == trace_id for tp in found)

    await eventually(traced_assessment)
    continued = [tp for tp in found if tp.split("-")[1] == trace_id]
    # A child of the consumer's processing span: same trace, a span of its own.
    assert producer_span not in continued
