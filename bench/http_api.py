"""`POST /invoices` on one worker beside a bare FastAPI + asyncpg endpoint, and ERP ingestion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.infra import Infra
from bench.loadgen import LoadStats, post, run_load
from bench.memory import service_env
from bench.results import Result
from dunlin_devstack.broker import ensure_topics, platform_topics
from dunlin_devstack.databases import libpq_url
from dunlin_devstack.launcher import ServiceProcess
from dunlin_devstack.paths import dunlin_home, free_port
from dunlin_devstack.services import HTTP_HOST, ServiceSpec
from dunlin_events import InvoiceIssued, encode, new_envelope
from dunlin_events.topics import ERP_INVOICES

RPS_TARGET = 1_000.0
P99_TARGET_MS = 50.0
ERP_TARGET = 5_000.0


@dataclass(frozen=True)
class Options:
    """How hard to push."""

    requests: int = 5_000
    concurrency: int = 16
    warmup: int = 300
    erp_invoices: int = 20_000


def invoice_body(account_id: str, number: str) -> bytes:
    return json.dumps(
        {
            "account_id": account_id,
            "invoice_number": number,
            "currency": "EUR",
            "issue_date": "2026-11-23",
            "lines": [
                {
                    "description": "Consulting",
                    "quantity": "10",
                    "unit_price": "120.00",
                    "tax_rate": "19",
                },
                {"description": "Travel", "quantity": "1", "unit_price": "85.50", "tax_rate": "19"},
            ],
        }
    ).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_endpoint(
    port: int, account_id: str, headers: dict[str, str], opts: Options, tag: str, pid: int
) -> LoadStats:
    """Warm up, then the measured run; every request is a new invoice.

    The server's CPU time per request is taken too: on a shared machine it moves far less
    than the throughput does, so it is the number to compare runs by.
    """

    def numbered(prefix: str) -> Callable[[int], bytes]:
        def request(i: int) -> bytes:
            return post("/invoices", invoice_body(account_id, f"{prefix}-{i}"), headers)

        return request

    await run_load(
        HTTP_HOST, port, numbered(f"{tag}-w"), total=opts.warmup, concurrency=opts.concurrency
    )
    before = cpu_seconds(pid)
    stats = await run_load(
        HTTP_HOST, port, numbered(tag), total=opts.requests, concurrency=opts.concurrency
    )
    stats.server_cpu_s = cpu_seconds(pid) - before
    return stats


@contextlib.asynccontextmanager
async def bare_server(infra: Infra) -> AsyncIterator[tuple[int, int]]:
    """The reference app under uvicorn, one worker: its port and pid."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": infra.database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_app:app",
        "--host",
        HTTP_HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        env=env,
    )
    try:
        await _wait_http(f"http://{HTTP_HOST}:{port}/docs")
        yield port, process.pid
    finally:
        process.terminate()
        await process.wait()


async def _wait_http(url: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def dev_key(infra: Infra) -> str:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from dunlin_platform.auth import create_api_key, migrate

    await migrate(infra.database_url)
    engine = create_async_engine(infra.database_url)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            _, key = await create_api_key(session=session, name="bench", scopes=["*"])
    finally:
        await engine.dispose()
    return key


ERP_CUSTOMERS = 200


def erp_invoice_id(run_id: str, n: int) -> str:
    """The ERP's id of the bench's n-th invoice."""
    return f"ERP-{run_id}-{n}"


def erp_records(count: int, run_id: str) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """InvoiceIssued as an ERP publishes it: its own ids, 200 customers in turn."""
    records = []
    for i in range(count):
        event = InvoiceIssued.model_validate(
            {
                "invoice_id": erp_invoice_id(run_id, i),
                "account_id": f"CUST-{run_id}-{i % ERP_CUSTOMERS}",
                "invoice_number": f"E-{i}",
                "currency": "EUR",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "lines": [
                    {
                        "description": "Goods",
                        "quantity": "2",
                        "unit_price": "50.00",
                        "tax_rate": "19",
                        "net_amount": "100.00",
                        "tax_amount": "19.00",
                    }
                ],
                "subtotal": "100.00",
                "tax_total": "19.00",
                "total": "119.00",
            }
        )
        record = encode(new_envelope(event, source="/erp/bench"))
        records.append((record.key, record.value, record.headers))
    return records


@dataclass(frozen=True)
class ErpTiming:
    """How long ingestion took, measured two ways, and how much of it was done."""

    seconds: float  # from the first record published until all stored and republished
    stored: int
    first_stored_s: float | None  # when the first ERP invoice was seen stored
    first_count: int  # how many were stored at that moment
    bench_cpu_s: float  # CPU time of this process meanwhile (publishing and polling)

    @property
    def steady_rate(self) -> float | None:
        """Invoices/s from the first stored one: without the consumer group's join."""
        if self.first_stored_s is None or self.seconds <= self.first_stored_s:
            return None
        return (self.stored - self.first_count) / (self.seconds - self.first_stored_s)


# Both progress polls cost a few index probes whatever the table's size: counting every ERP
# invoice 20 times a second was a sequential scan of all invoices each time, PostgreSQL CPU
# (~24 us per invoice at 5,000/s) the service then competed with. Each customer's invoices
# share a partition and are applied in order, and every customer is among the first and
# the last 200 invoices: one of the first stored is the first batch committed; all of the
# last stored means every partition is through.
_ANY_STORED = "SELECT EXISTS (SELECT FROM invoicing.invoices WHERE external_id = ANY($1::text[]))"
_LAST_STORED = (
    "SELECT (SELECT count(*) FROM invoicing.invoices WHERE external_id = ANY($1::text[])),"
    " EXISTS (SELECT FROM invoicing.outbox WHERE published_at IS NULL)"
)
_ALL_STORED = "SELECT count(*) FROM invoicing.invoices WHERE source = 'erp'"


async def erp_ingestion(infra: Infra, count: int) -> ErpTiming:
    """Publish ERP invoices; time until all are stored and republished by the service.

    The clock starts with the first record published, so it includes the consumer group's
    join; the time of the first stored invoice is kept too, for the rate without start-up.
    Progress is polled while publishing, with the cheap queries above; the stored invoices
    are counted exactly at the first one and at the end.
    """
    records = erp_records(count, infra.run_id)
    ids = [erp_invoice_id(infra.run_id, n) for n in range(count)]
    firsts, lasts = ids[:ERP_CUSTOMERS], ids[-ERP_CUSTOMERS:]
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    conn = await asyncpg.connect(libpq_url(infra.database_url))
    started, cpu_started = time.perf_counter(), time.process_time()
    first: tuple[float, int] | None = None
    publishing = asyncio.ensure_future(_erp_publish(producer, records))
    try:
        while time.perf_counter() - started < 300:
            if first is None:
                if await conn.fetchval(_ANY_STORED, firsts):
                    first = (time.perf_counter() - started, int(await conn.fetchval(_ALL_STORED)))
            else:
                row = await conn.fetchrow(_LAST_STORED, lasts)
                assert row is not None
                if row[0] == len(lasts) and not row[1] and publishing.done():
                    break
            await asyncio.sleep(0.05)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        await publishing
        stored = int(await conn.fetchval(_ALL_STORED))
        return ErpTiming(
            seconds, stored, first[0] if first else None, first[1] if first else 0, cpu
        )
    finally:
        publishing.cancel()
        await conn.close()
        await producer.stop()


async def _erp_publish(
    producer: AIOKafkaProducer, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    sent = [await producer.send(ERP_INVOICES, v, key=k, headers=h) for k, v, h in records]
    await asyncio.gather(*sent)


async def erp_backend_cpu_ns(infra: Infra) -> int:
    """On-CPU nanoseconds so far of every PostgreSQL backend of this run's database."""
    conn = await asyncpg.connect(libpq_url(infra.database_url))
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return sum(_on_cpu_ns(pid) for (pid,) in pids)


def _on_cpu_ns(pid: int) -> int:
    """A process's on-CPU nanoseconds from schedstat (0 when it has ended)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


async def erp_measure(infra: Infra, count: int, pid: int) -> list[Result]:
    """ERP ingestion into a running invoicing service: rates and CPU per invoice.

    The PostgreSQL CPU counts the backends alive at the end (the service's pool keeps its
    connections), from zero for one that started in between.
    """
    cpu_before = cpu_seconds(pid)
    pg_before = await erp_backend_cpu_ns(infra)
    timing = await erp_ingestion(infra, count)
    bench_us = timing.bench_cpu_s / max(timing.stored, 1) * 1e6
    cpu = cpu_seconds(pid) - cpu_before
    pg_us = (await erp_backend_cpu_ns(infra) - pg_before) / 1e3 / max(timing.stored, 1)
    note = f"{timing.stored:,} of {count:,} stored and republished"
    startup = timing.first_stored_s or 0.0
    return [
        Result(
            "erp.ingestion",
            timing.steady_rate,
            "invoices/s",
            ERP_TARGET,
            "min",
            f"{note}; from the first stored invoice to the last republished one (as the"
            " consumer benchmark counts: the consumer group's join is left out)",
        ),
        Result(
            "erp.ingestion.incl_startup",
            timing.stored / timing.seconds,
            "invoices/s",
            note=f"{note}; the same run from the first record published, the consumer's"
            f" start-up included (first invoice stored after {startup:.2f} s)",
        ),
        Result(
            "erp.ingestion.server_cpu",
            cpu / max(timing.stored, 1) * 1e6,
            "us/invoice",
            note="CPU time of the service process per invoice (consume, store, relay)",
        ),
        Result(
            "erp.ingestion.postgres_cpu",
            pg_us,
            "us/invoice",
            note="on-CPU time of the run database's PostgreSQL backends per invoice",
        ),
        Result(
            "erp.ingestion.bench_cpu",
            bench_us,
            "us/invoice",
            note="CPU time of the bench process per invoice: the ERP's producer and the polls"
            " (and the embedded broker's client side), on the same cores as the service",
        ),
    ]


async def erp_only(infra: Infra, count: int) -> list[Result]:
    """ERP ingestion alone, into a freshly started invoicing service (`--only erp`)."""
    await ensure_topics(infra.bootstrap, platform_topics(), partitions=6)
    spec = ServiceSpec("invoicing", "invoicing", free_port())
    service = ServiceProcess(spec, service_env(infra), dunlin_home() / "logs" / "bench")
    try:
        await service.migrate()
        await service.serve()
        await service.wait_ready(60)
        assert service.process is not None
        return await erp_measure(infra, count, service.process.pid)
    finally:
        await service.stop()


async def run(infra: Infra, opts: Options) -> list[Result]:
    """The bare reference, then Dunlin's invoicing service, then ERP ingestion into it."""
    results: list[Result] = []
    async with bare_server(infra) as (port, pid):
        bare = await measure_endpoint(port, "acc-bare", {}, opts, "bare", pid)
    results += _rows("http.bare_fastapi_asyncpg", bare, targets=False)

    await ensure_topics(infra.bootstrap, platform_topics(), partitions=6)
    key = await dev_key(infra)
    spec = ServiceSpec("invoicing", "invoicing", free_port())
    service = ServiceProcess(spec, service_env(infra), dunlin_home() / "logs" / "bench")
    try:
        await service.migrate()
        await service.serve()
        await service.wait_ready(60)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=spec.base_url, headers=headers) as client:
            account = await client.post(
                "/accounts",
                json={
                    "name": "Bench",
                    "currency": "EUR",
                    "payment_terms": {"kind": "net", "days": 30},
                },
            )
            account.raise_for_status()
        assert service.process is not None
        dunlin = await measure_endpoint(
            spec.port, account.json()["id"], headers, opts, "inv", service.process.pid
        )
        results += _rows("http.dunlin_post_invoices", dunlin, targets=True)
        results.append(
            Result("http.dunlin_over_bare", dunlin.rps / bare.rps, "x", note="throughput ratio")
        )
        results += await erp_measure(infra, opts.erp_invoices, service.process.pid)
    finally:
        await service.stop()
    return results


def _rows(name: str, stats: LoadStats, *, targets: bool) -> list[Result]:
    errors = sum(n for status, n in stats.statuses.items() if status >= 300)
    note = f"{stats.requests:,} requests, {errors} non-2xx; statuses {stats.statuses}"
    return [
        Result(f"{name}.rps", stats.rps, "req/s", RPS_TARGET if targets else None, "min", note),
        Result(f"{name}.p50", stats.percentile(50), "ms"),
        Result(
            f"{name}.p99",
            stats.percentile(99),
            "ms",
            P99_TARGET_MS if targets else None,
            "max",
        ),
        Result(
            f"{name}.server_cpu",
            stats.server_cpu_s / stats.requests * 1e6,
            "us/req",
            note="CPU time of the server process (all its threads) per request",
        ),
    ]
