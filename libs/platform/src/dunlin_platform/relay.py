"""The outbox relay: publishes committed outbox rows to Kafka in order, in batches.

How a row becomes a Kafka record and records become per-partition produce batches is
`dunlin_platform.relay_encoding`; this module elects the relay, wakes it, marks and purges.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue
from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dunlin_events import KafkaRecord
from dunlin_platform import metrics
from dunlin_platform.config import ServiceSettings
from dunlin_platform.errors import Backoff, is_transient
from dunlin_platform.heap import freeze_startup_heap
from dunlin_platform.kafka import ProducerHolder
from dunlin_platform.outbox import notify_channel, outbox_backlog, register_running_relay
from dunlin_platform.relay_encoding import (
    OutboxRow,
    PartitionBatches,
    RecordTooLarge,
    Slot,
    encode_row,
)
from dunlin_platform.spans import event_attributes
from dunlin_platform.telemetry import context_from_traceparent, current_traceparent, tracer

# encode_row lived here before relay_encoding: still importable from this module.
__all__ = ["OutboxRelay", "asyncpg_dsn", "encode_row", "mark_sql", "select_sql"]

log = logging.getLogger(__name__)

_METRICS_EVERY_S = 5.0
_PURGE_EVERY_S = 600.0
_NOTIFY_COALESCE_S = 0.005
_TOO_LARGE_LOG_EVERY_S = 300.0
_HELD_RECHECK_S = 60.0


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq-style DSN asyncpg understands, from a SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxRelay:
    """One active relay per service schema (a Postgres advisory lock elects it); others stand by.

    A single active publisher is what keeps events of one key in order across replicas.
    """

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        engine: AsyncEngine,
        table: Table,
        producers: ProducerHolder,
        standby_interval_s: float = 5.0,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._table = table
        self._producers = producers
        self._standby_interval_s = standby_interval_s
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._notify_task: asyncio.Task[None] | None = None
        self._schema = str(table.schema)
        self._last_metrics = 0.0
        self._last_purge = 0.0
        self.is_leader = False
        self.published_total = 0
        # Set by publish_batch: rows it read are left for the next round, or it read a full
        # batch, so the relay goes on at once instead of waiting for a notification.
        self.more_waiting = False
        self._too_large_logged: dict[int, float] = {}
        # Accounts held back behind a row too large to publish, left out of the reads for
        # _HELD_RECHECK_S at a time (see _hold_back).
        self._held: set[str] = set()
        self._held_since = 0.0
        # Publish spans only when someone reads them; otherwise pass the stored context on.
        self._trace_publish = settings.otel_traces_exporter != "none"

    def stop(self) -> None:
        self._stop.set()
        if self._notify_task is not None:
            self._notify_task.cancel()

    async def run(self) -> None:
        """Relay until stopped; infrastructure faults pause and retry, never end the loop."""
        freeze_startup_heap()
        unregister = register_running_relay(self._schema, self.wake)
        try:
            await self._relay()
        finally:
            unregister()

    async def _relay(self) -> None:
        backoff = Backoff(maximum=self._settings.consumer_max_backoff_s)
        while not self._stop.is_set():
            try:
                await self._lead()
                backoff.reset()
            except Exception as exc:
                self.is_leader = False
                metrics.outbox_publish_failures.add(1, {"service": self._settings.service_name})
                delay = backoff.next_delay()
                if is_transient(exc):
                    log.warning("outbox relay paused %.1fs: %s", delay, exc)
                else:
                    log.exception("outbox relay failed; retrying in %.1fs", delay)
                await self._sleep(delay)

    async def _lead(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(asyncpg_dsn(self._settings.database_url))
        try:
            lock_key = f"{self._table.schema}.outbox-relay"
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock_key):
                if await self._sleep(self._standby_interval_s):
                    return
            self.is_leader = True
            await conn.add_listener(notify_channel(str(self._table.schema)), self._on_notify)
            producer = await self._producers.get()
            while not self._stop.is_set():
                self._wake.clear()
                await self.publish_batch(producer)
                if self.more_waiting:
                    continue  # no need to sleep
                await self._housekeeping()
                if conn.is_closed():
                    raise ConnectionError("relay's listening connection was closed")
                await self._wait_for_work()
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    def wake(self) -> None:
        """New rows were committed by this process: publish them now."""
        if self.is_leader:
            self._wake.set()
        elif self._notify_task is None or self._notify_task.done():
            # The leader runs elsewhere: one coalesced NOTIFY, outside any business transaction.
            self._notify_task = asyncio.ensure_future(self._notify_leader())

    async def _notify_leader(self) -> None:
        await asyncio.sleep(_NOTIFY_COALESCE_S)
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(func.pg_notify(notify_channel(self._schema), "")))
                await conn.commit()
        except Exception as exc:  # the safety poll still finds the rows
            log.warning("could not notify the outbox relay leader: %s", exc)

    async def _wait_for_work(self) -> None:
        waiters = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._stop.wait()),
        ]
        try:
            await asyncio.wait(
                waiters,
                timeout=self._settings.outbox_poll_interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Publish the oldest unpublished rows; mark those the broker acknowledged.

        Returns how many were published. Rows left for a later round (their partition's
        batch was full, see `PartitionBatches`) set `more_waiting`, as does a full read. When
        a partition's batch fails, the other partitions' rows are marked all the same and the
        error is raised: that partition's rows are published again, in order, next round.

        Both statements run on the pooled connection's asyncpg driver, as plain tuples: the
        rows are only read once, in order, and through SQLAlchemy's result machinery their
        reading cost several microseconds each (so they do not appear as SQLAlchemy spans).
        """
        limit = self._settings.outbox_batch_size
        if self._held and time.monotonic() - self._held_since >= _HELD_RECHECK_S:
            self._held.clear()  # read their rows again: an operator may have fixed them
        async with self._engine.connect() as conn:
            driver = await _driver(conn)
            if self._held:
                held = sorted(self._held)
                rows = await driver.fetch(self._select_without_held_sql, limit, held)
            else:
                rows = await driver.fetch(self._select_sql, limit)
        self.more_waiting = False
        if not rows:
            return 0
        batches = PartitionBatches(producer)
        sent: list[tuple[int, Slot]] = []
        for row in rows:
            outbox_row = OutboxRow(*row)
            try:
                slot = await batches.append(outbox_row.topic, self._record(outbox_row))
            except RecordTooLarge as exc:
                self._hold_back(outbox_row, exc)
                continue
            if slot is not None:
                sent.append((outbox_row.seq, slot))
        failed = await batches.send_and_wait()
        published = [seq for seq, slot in sent if slot not in failed]
        if published:
            # One statement, so its own transaction; begin() only keeps the SELECT's
            # connection use apart from the UPDATE's (bench/stages.py times the two by these).
            async with self._engine.begin() as conn:
                await (await _driver(conn)).execute(self._mark_sql, published)
            self.published_total += len(published)
            metrics.outbox_published.add(len(published), {"service": self._settings.service_name})
        if failed:
            raise next(iter(failed.values()))
        self.more_waiting = bool(published) and (len(rows) >= limit or batches.deferred > 0)
        return len(published)

    def _hold_back(self, row: OutboxRow, exc: RecordTooLarge) -> None:
        """An event no broker of default configuration takes: its account's later events wait
        behind it (see docs/operations.md, "An outbox event too large to publish"), and the
        account is left out of the next reads, so that however many of its events wait, the
        other accounts' events are read."""
        now = time.monotonic()
        if not self._held:
            self._held_since = now
        self._held.add(row.aggregateid)
        if now - self._too_large_logged.get(row.seq, -_TOO_LARGE_LOG_EVERY_S) >= (
            _TOO_LARGE_LOG_EVERY_S
        ):
            self._too_large_logged[row.seq] = now
            log.error(
                "outbox event seq=%d id=%s (%s, account %s) cannot be published: %s; the"
                " account's later events wait behind it",
                row.seq,
                row.id,
                row.type,
                row.aggregateid,
                exc,
            )
        metrics.outbox_publish_failures.add(1, {"service": self._settings.service_name})

    @functools.cached_property
    def _select_sql(self) -> str:
        return select_sql(self._table)

    @functools.cached_property
    def _select_without_held_sql(self) -> str:
        return select_sql(self._table, without_accounts=True)

    @functools.cached_property
    def _mark_sql(self) -> str:
        return mark_sql(self._table)

    def _record(self, row: OutboxRow) -> KafkaRecord:
        if not self._trace_publish:
            return encode_row(row, row.tracingspancontext)
        with tracer().start_as_current_span(
            f"publish {row.type}",
            context=context_from_traceparent(row.tracingspancontext),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": row.topic,
                "messaging.message.id": row.id,
                "dunlin.account_id": row.aggregateid,
                "dunlin.event_type": row.type,
                **_payload_attributes(row.payload),
            },
        ):
            return encode_row(row, current_traceparent() or row.tracingspancontext)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_metrics >= _METRICS_EVERY_S:
            self._last_metrics = now
            async with self._engine.connect() as conn:
                count, oldest = await outbox_backlog(conn, table=self._table)
            service = self._settings.service_name
            metrics.outbox_backlog.set(count, service=service)
            age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
            metrics.outbox_oldest_age.set(age, service=service)
        if now - self._last_purge >= _PURGE_EVERY_S:
            self._last_purge = now
            await self._purge_published()

    async def _purge_published(self) -> None:
        """Published rows are kept for a while (audit, replay) and then dropped."""
        cutoff = datetime.now(UTC) - timedelta(hours=self._settings.outbox_retention_hours)
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.published_at < cutoff))


def select_sql(table: Table, *, without_accounts: bool = False) -> str:
    """The relay's read: the oldest unpublished rows, in `OutboxRow`'s column order; $1 is
    the limit (served by `ix_outbox_unpublished`); `without_accounts`: and $2 the accounts
    (`aggregateid`s) whose rows are left out."""
    held = " AND aggregateid <> ALL($2::text[])" if without_accounts else ""
    return (
        f"SELECT {', '.join(OutboxRow._fields)} FROM {_table_sql(table)}"  # noqa: S608 - our table
        f" WHERE published_at IS NULL{held} ORDER BY seq LIMIT $1"
    )


def mark_sql(table: Table) -> str:
    """The relay's mark of the rows it published; $1 is their `seq`s (the primary key)."""
    return (
        f"UPDATE {_table_sql(table)} SET published_at = now()"  # noqa: S608 - our table
        " WHERE seq = ANY($1::bigint[])"
    )


def _table_sql(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"'


def _payload_attributes(payload: str) -> dict[str, AttributeValue]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    return event_attributes(data) if isinstance(data, dict) else {}


async def _driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled SQLAlchemy connection."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert isinstance(driver, asyncpg.Connection)
    return driver
