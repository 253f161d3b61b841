"""One service's composition: engine, producer, outbox relay and consumers, started in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import MetaData, Table

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.config import ServiceSettings
from dunlin_platform.consumer import BatchConsumer, BatchHandler
from dunlin_platform.db import create_engine, create_sessionmaker, ping
from dunlin_platform.deadletter import DeadLetterPublisher
from dunlin_platform.http.health import NotReady
from dunlin_platform.inbox import inbox_table, purge_claims
from dunlin_platform.kafka import ProducerHolder
from dunlin_platform.outbox import Outbox, outbox_table
from dunlin_platform.periodic import every
from dunlin_platform.relay import OutboxRelay

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 20.0
_INBOX_PURGE_EVERY_S = 24 * 3600.0  # one pass over the inbox a day (retention is in days)


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group of a service: what it reads and what applies it."""

    name: str
    topics: Sequence[str]
    handler: BatchHandler
    lanes: int = 1
    """Partition lanes applying batches concurrently (see BatchConsumer); the setting
    CONSUMER_LANES overrides it per consumer name."""


@dataclass(frozen=True)
class PlatformTables:
    """The tables every service has in its own schema."""

    outbox: Table
    inbox: Table
    idempotency: Table

    @classmethod
    def define(cls, metadata: MetaData) -> PlatformTables:
        from dunlin_platform.http.idempotency import idempotency_table

        return cls(
            outbox=outbox_table(metadata),
            inbox=inbox_table(metadata),
            idempotency=idempotency_table(metadata),
        )


class ServiceRuntime:
    """Owns the service's connections and background loops; nothing connects before start()."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: PlatformTables,
        consumers: Sequence[ConsumerSpec] = (),
        clock: Clock | None = None,
        run_relay: bool = True,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.clock = clock or SystemClock()
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.producers = ProducerHolder(settings)
        self.relay = OutboxRelay(
            settings=settings, engine=self.engine, table=tables.outbox, producers=self.producers
        )
        self.outbox = Outbox(
            table=tables.outbox,
            source=settings.source,
            clock=self.clock,
            on_commit=self.relay.wake,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._dead_letters = DeadLetterPublisher(self.producers)
        self.consumers: list[BatchConsumer] = []
        for spec in consumers:
            self.add_consumer(spec)
        self._run_relay = run_relay
        self._loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []

    def add_consumer(self, spec: ConsumerSpec) -> BatchConsumer:
        """Register a consumer group (before start); handlers may use this runtime's outbox."""
        if self._tasks:
            raise RuntimeError("consumers must be added before the runtime starts")
        consumer = BatchConsumer(
            settings=self.settings,
            group_id=f"dunlin-{self.settings.service_name}-{spec.name}",
            topics=spec.topics,
            handler=spec.handler,
            sessionmaker=self.sessionmaker,
            inbox=self.tables.inbox,
            dead_letters=self._dead_letters,
            lanes=self.settings.consumer_lanes.get(spec.name, spec.lanes),
        )
        self.consumers.append(consumer)
        return consumer

    def add_loop(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Register a background loop (e.g. a clock-driven sweep) started and supervised with
        the relay and consumers; it must return once `stop_requested` is set."""
        if self._tasks:
            raise RuntimeError("loops must be added before the runtime starts")
        self._loops.append((name, loop))

    @property
    def stop_requested(self) -> asyncio.Event:
        """Set when the runtime stops: added loops finish their round and return."""
        return self._stopping

    async def start(self) -> None:
        """Start background work; a missing broker only delays readiness, never start-up."""
        self.producers.start()
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = list(self._loops)
        if self._run_relay:
            loops.append(("outbox-relay", self.relay.run))
        loops += [(f"consumer-{c.group_id}", c.run) for c in self.consumers]
        if self.consumers and self.settings.inbox_retention_days:
            purge = every(
                self, "inbox purge", _INBOX_PURGE_EVERY_S, self.purge_inbox, at_start=True
            )
            loops.append(("inbox-purge", purge))
        for name, loop in loops:
            self._tasks.append(asyncio.create_task(self._supervised(name, loop), name=name))

    async def purge_inbox(self) -> int:
        """Forget the consumed ids older than `inbox_retention_days` (at start, then daily
        while consumers run); returns how many went."""
        days = self.settings.inbox_retention_days
        deleted = await purge_claims(self.engine, table=self.tables.inbox, older_than_days=days)
        if deleted:
            log.info("inbox purge: %d ids older than %d days", deleted, days)
        return deleted

    async def _supervised(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped with an error", name)
            raise

    async def stop(self) -> None:
        """Graceful: consumers finish and commit their batch, then everything closes."""
        self._stopping.set()
        for consumer in self.consumers:
            consumer.stop()
        self.relay.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=_STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        await self.producers.stop()
        await self.engine.dispose()

    def readiness_checks(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        return {"database": self._database_ready, "broker": self._broker_ready}

    async def _database_ready(self) -> None:
        await ping(self.engine)

    async def _broker_ready(self) -> None:
        if not self.producers.connected:
            raise NotReady("broker not reached yet")
        producer = await self.producers.get()
        if not await producer.client.fetch_all_metadata():
            raise NotReady("broker did not answer a metadata request")
        failed = [t.get_name() for t in self._tasks if t.done() and not t.cancelled()]
        if failed:
            raise NotReady(f"background loops stopped: {', '.join(failed)}")
