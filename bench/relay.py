"""Outbox relay: 100k committed outbox rows published to Kafka with acks=all and marked sent."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, insert, select

from bench.corpus import ACCOUNTS, PARTITIONS, account_event
from bench.infra import Infra
from bench.profiling import Profiler
from bench.results import Result
from bench.stages import StageClock, instrument_relay
from dunlin_events import AccountRegistered
from dunlin_platform.config import ServiceSettings
from dunlin_platform.db import service_metadata
from dunlin_platform.runtime import PlatformTables, ServiceRuntime
from dunlin_platform.testing import create_schema

SCHEMA = "bench_relay"
DEADLINE_S = 120.0
INSERT_CHUNK = 5_000


def outbox_rows(count: int, topic: str, source: str) -> list[dict[str, Any]]:
    """Rows as Outbox.add writes them, but aimed at this run's fresh topic."""
    payloads = [account_event(i).model_dump_json() for i in range(ACCOUNTS)]
    now = datetime.now(UTC)
    return [
        {
            "id": str(uuid.uuid4()),
            "aggregatetype": AccountRegistered.event_name,
            "aggregateid": f"acc-{n % ACCOUNTS:05d}",
            "type": AccountRegistered.ce_type(),
            "topic": topic,
            "source": source,
            "occurred_at": now,
            "payload": payloads[n % ACCOUNTS],
            "tracingspancontext": None,
        }
        for n in range(count)
    ]


async def count_on_topic(bootstrap: str, topic: str, expected: int) -> int:
    """Read the topic back and count: proves every row reached the broker."""
    # Not end_offsets(): Tansu reports the high watermark as the last batch's base offset + 1.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-verify-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        async with asyncio.timeout(30):
            while seen < expected:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                seen += sum(len(messages) for messages in batch.values())
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return seen


async def run(infra: Infra, events: int, batch_size: int, profile: bool) -> list[Result]:
    """Fill the outbox (untimed), then time publish_batch until the outbox is empty."""
    topic = await infra.create_topic("relay", PARTITIONS)
    settings = ServiceSettings(
        service_name="bench-relay",
        db_schema=SCHEMA,
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap,
        outbox_batch_size=batch_size,
    )
    metadata = service_metadata(SCHEMA)
    tables = PlatformTables.define(metadata)
    runtime = ServiceRuntime(settings, tables=tables, run_relay=False)
    profiler = Profiler("outbox_relay") if profile else None
    try:
        await create_schema(runtime.engine, metadata)
        rows = outbox_rows(events, topic, settings.source)
        for at in range(0, len(rows), INSERT_CHUNK):
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(insert(tables.outbox), rows[at : at + INSERT_CHUNK])
        runtime.producers.start()
        producer = await runtime.producers.get()
        clock = StageClock()
        instrumented = instrument_relay(runtime.relay, producer, clock)
        if profiler is not None:
            profiler.start()
        started = time.perf_counter()
        async with asyncio.timeout(DEADLINE_S):
            while await runtime.relay.publish_batch(producer):
                pass
        seconds = time.perf_counter() - started
        stages = {name: 1e6 * value / events for name, value in clock.seconds.items()}
        if instrumented:
            # What is left is the loop itself: spans, encode_raw, and waiting for the acks.
            stages["encode + span + await acks"] = 1e6 * seconds / events - sum(stages.values())
        if profiler is not None:
            profiler.stop()
            profiler.report()
        outbox = tables.outbox
        async with runtime.engine.connect() as conn:
            unsent = (
                await conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )
            ).scalar_one()
        delivered = await count_on_topic(infra.bootstrap, topic, events)
    finally:
        await runtime.stop()
    note = f"{events:,} rows, batch {batch_size}, acks=all; {delivered:,} on topic, {unsent} unsent"
    ok = delivered >= events and unsent == 0
    breakdown = [
        Result(f"  relay: {stage}", us, "us/event", note="wall time inside publish_batch")
        for stage, us in stages.items()
    ]
    return [
        Result(
            "relay.publish",
            runtime.relay.published_total / seconds if ok else None,
            "events/s",
            target=10_000,
            goal="min",
            note=note if ok else f"INCOMPLETE: {note}",
        ),
        *breakdown,
    ]
