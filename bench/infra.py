"""The servers a run uses: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dunlin_devstack import databases
from dunlin_devstack.broker import EmbeddedBroker, ensure_topics
from dunlin_devstack.paths import dunlin_home
from dunlin_devstack.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)


@dataclass
class Infra:
    """Where this run's fresh database and broker are, and what it must clean up."""

    server_url: str
    database_url: str
    bootstrap: str
    run_id: str
    origin: str
    topics: list[str]

    def topic(self, purpose: str) -> str:
        """A fresh topic name for this run (dropped at the end)."""
        return f"bench.{self.run_id}.{purpose}"

    async def create_topic(self, purpose: str, partitions: int) -> str:
        """Create a fresh topic and remember it for clean-up."""
        name = self.topic(purpose)
        await ensure_topics(self.bootstrap, [name], partitions=partitions)
        self.topics.append(name)
        return name


@contextlib.asynccontextmanager
async def servers() -> AsyncIterator[Infra]:
    """Yield a fresh database and a broker; drop/stop everything this run created."""
    run_id = uuid.uuid4().hex[:8]
    pg: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    origin: list[str] = []
    try:
        server_url = os.environ.get("DATABASE_URL")
        if server_url:
            origin.append("DATABASE_URL")
        else:
            # Shares the pgdata of `make run` so initdb happens once; stop() is reference-counted.
            pg = EmbeddedPostgres(dunlin_home() / "pgdata")
            await asyncio.to_thread(pg.start)
            server_url = pg.url()
            origin.append("embedded PostgreSQL")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap:
            origin.append("KAFKA_BOOTSTRAP_SERVERS")
        else:
            broker = EmbeddedBroker(log_file=dunlin_home() / "bench-broker.log")
            await broker.start()
            bootstrap = broker.bootstrap
            origin.append("embedded broker")
        database = f"dunlin_bench_{run_id}"
        await databases.ensure_database(server_url, database)
        infra = Infra(
            server_url=server_url,
            database_url=databases.with_database(server_url, database),
            bootstrap=bootstrap,
            run_id=run_id,
            origin=" + ".join(origin),
            topics=[],
        )
        try:
            yield infra
        finally:
            await _delete_topics(bootstrap, infra.topics)
            await databases.drop_database(server_url, database)
    finally:
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if pg is not None:
            await asyncio.to_thread(pg.stop)


async def _delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    """Best effort: an external broker keeps no bench topics; an embedded one just stops."""
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        await admin.delete_topics(list(topics))
    except Exception as exc:  # clean-up must never hide the results
        log.warning("could not delete bench topics %s: %s", ", ".join(topics), exc)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


_AUTOVACUUM_HERE = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
)


async def settle(engine: AsyncEngine, *tables: str, timeout_s: float = 120.0) -> str:
    """Bring the database to rest before a timed section; returns what it did, for the note.

    A section's numbers should be its own: the rows an earlier section (or this one's set-up)
    wrote leave PostgreSQL work to do in the background, and on two cores that work takes
    one from the measurement. So: VACUUM (ANALYZE) `tables` (the set-up's fresh rows, as
    rows written long before a real sweep would be), wait until no autovacuum worker is busy
    in this database, then CHECKPOINT, so that neither writing earlier sections' dirty pages
    nor the full-page images after a checkpoint fall into the timed section. What the timed
    work itself leaves behind (its dead rows, its WAL) is not settled: it is part of it.
    CHECKPOINT needs a superuser or pg_checkpoint (a server of your own may refuse it).
    """
    started = time.perf_counter()
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        waiting_since = time.perf_counter()
        while (await conn.execute(text(_AUTOVACUUM_HERE))).scalar_one():
            if time.perf_counter() - waiting_since > timeout_s:
                break
            await asyncio.sleep(0.2)
        waited = time.perf_counter() - waiting_since
        try:
            await conn.execute(text("CHECKPOINT"))
            checkpoint = "checkpoint"
        except DBAPIError:
            checkpoint = "no checkpoint (not permitted)"
    vacuumed = f"vacuum analyze {', '.join(tables)}, " if tables else ""
    return (
        f"settled first ({vacuumed}autovacuum waited {waited:.1f} s, {checkpoint};"
        f" {time.perf_counter() - started:.1f} s untimed)"
    )
