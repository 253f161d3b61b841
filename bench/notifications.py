"""Notifications: e-mails/s and letters/s through the real delivery worker, and the service's
memory over many deliveries.

Every message goes through the service's own code: deliveries recorded by the intake handler,
claimed by DeliveryWorker rounds (rules, templates, PDFs, attempts, outbox), sent by the
e-mail adapter's SMTP pool to an aiosmtpd sink running in its own process (like a real mail
server, it does not share the service's event loop), recorded, and the outcome events
published by the outbox relay. The memory run starts the service itself (`python -m
notifications serve`), feeds it NotificationRequested through Kafka and reads its RSS.

`python -m bench.notifications [--emails N] [--deliveries N] ...` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from bench.infra import Infra, servers
from bench.memory import rss_mb, service_env
from bench.profiling import Profiler
from bench.results import Result, render
from dunlin_devstack.broker import ensure_topics
from dunlin_devstack.launcher import ServiceError, ServiceProcess
from dunlin_devstack.mailsink import MailSink
from dunlin_devstack.paths import dunlin_home, free_port
from dunlin_devstack.services import ServiceSpec
from dunlin_events import NotificationRequested, encode, new_envelope, topics
from dunlin_events.testing import notification_requested
from dunlin_platform.migrations import upgrade
from notifications.bootstrap import Service, bootstrap
from notifications.config import NotificationsSettings
from notifications.db import DeliveryRow
from notifications.handlers.intake import delivery_values
from notifications.repository import deliveries as deliveries_repo

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services/notifications/alembic.ini"
DEADLINE_S = 600.0
INSERT_CHUNK = 2_000
EMAIL_TARGET = 400.0
LETTER_TARGET = 50.0
GROWTH_TARGET = 1.10  # RSS at the end over RSS at the first checkpoint: "flat"
CHECKPOINTS = (0.1, 0.5, 1.0)  # of the memory run: 10k, 50k, 100k of 100,000
NAMES = (
    "Müller & Söhne GmbH",
    "Åkesson AB",
    "Łukasz Nowak Sp. z o.o.",
    "Acme Ltd",
    "Café Olé SARL",
)
SOURCE = "/dunlin/bench"


@dataclass(frozen=True)
class Options:
    """How much work each measurement does."""

    emails: int = 20_000
    statement_emails: int = 2_000
    letters: int = 1_000
    deliveries: int = 100_000
    pdf_workers: int = 2
    memory: bool = True
    profile: bool = False
    profile_statements: bool = False


def bench_request(index: int, *, step: str, channel: str, run: str) -> NotificationRequested:
    """A realistic request: varied customers, languages, names and amounts; one per account."""
    fallback = [] if channel == "letter" else ["letter"]
    amount = Decimal(100 + index % 9_000) + Decimal("0.19")
    invoice = _TEMPLATE.invoices[0].model_copy(
        update={"invoice_number": f"RE-{index:07d}", "balance": amount}
    )
    recipient = _TEMPLATE.recipient.model_copy(
        update={"email": f"ap{index}@customer{index % 97}.example"}
    )
    return notification_requested(
        account_id=f"bench-{run}-{index}",
        notification_id=f"ntf-{run}-{index}",
        step_key=step,
        template_key=step,
        channel=channel,
        fallback_channels=fallback,
        locale="de" if index % 2 else "en",
        account_name=NAMES[index % len(NAMES)],
        recipient=recipient,
        invoices=[invoice],
        dunned_balance=amount,
        total_due=amount,
    )


_TEMPLATE = notification_requested()


# --- the SMTP sink, in its own process -------------------------------------------------------


async def _serve_sink() -> None:
    """`python -m bench.notifications --sink`: print the port, serve until SIGTERM, print the
    count of messages received."""
    sink = MailSink(keep_in_memory=False)
    await sink.start()
    print(f"port {sink.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sink.stop()
    print(f"received {sink.received}", flush=True)


class SinkProcess:
    """The aiosmtpd sink (dunlin_devstack.mailsink) as a child process."""

    def __init__(self) -> None:
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.notifications", "--sink", stdout=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        line = (await asyncio.wait_for(self._process.stdout.readline(), 30)).decode().split()
        if line[:1] != ["port"]:
            raise RuntimeError(f"the SMTP sink did not start: {line}")
        self.port = int(line[1])

    @property
    def pid(self) -> int | None:
        """The sink's process id while it runs."""
        return self._process.pid if self._process is not None else None

    async def stop(self) -> int:
        """Stop it; returns how many messages it received."""
        if self._process is None or self._process.returncode is not None:
            return 0
        self._process.send_signal(signal.SIGTERM)
        assert self._process.stdout is not None
        out = (await asyncio.wait_for(self._process.stdout.read(), 30)).decode().split()
        await self._process.wait()
        return int(out[1]) if out[:1] == ["received"] else 0


# --- in-process worker rounds -----------------------------------------------------------------


def service_settings(infra: Infra, run_topics: Sequence[str], **overrides: Any) -> dict[str, Any]:
    """The settings the service would have under `make run`, on this run's servers."""
    dunning, invoicing = run_topics
    return {
        "database_url": infra.database_url,
        "kafka_bootstrap_servers": infra.bootstrap,
        "dunning_events_topic": dunning,
        "invoicing_events_topic": invoicing,
        "log_format": "text",
        # Quiet hours depend on when the bench runs: off, so nothing is deferred.
        "quiet_hours_start": 0,
        "quiet_hours_end": 0,
        **overrides,
    }


async def _record(service: Service, requests: Sequence[NotificationRequested]) -> None:
    """Record the intents as the consumer does (untimed)."""
    now = service.runtime.clock.now()
    for at in range(0, len(requests), INSERT_CHUNK):
        rows = [delivery_values(r, now=now) for r in requests[at : at + INSERT_CHUNK]]
        async with service.runtime.sessionmaker() as session, session.begin():
            await deliveries_repo.record_requests(session=session, rows=rows)


async def _count(service: Service, run: str, status: str) -> int:
    async with service.runtime.sessionmaker() as session:
        query = select(func.count()).where(
            DeliveryRow.status == status, DeliveryRow.account_id.like(f"bench-{run}-%")
        )
        return int((await session.execute(query)).scalar_one())


async def _outbox_backlog(service: Service) -> int:
    outbox = service.runtime.tables.outbox
    async with service.runtime.engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


def cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes used so far (from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _pdf_worker_pids(service: Service) -> list[int]:
    pool = getattr(service.worker.documents, "_pool", None)
    processes = getattr(pool, "_processes", None) or {}
    return list(processes)


@dataclass(frozen=True)
class Rate:
    """A measured rate and what was checked about it."""

    per_s: float | None
    note: str


def not_measured(count: int, option: str) -> Rate | None:
    """A rate of no messages has no meaning (and per-message figures would divide by zero):
    say so in the row instead."""
    if count > 0:
        return None
    return Rate(None, f"not measured: {option} {count} asks for no messages")


async def worker_rate(
    service: Service,
    *,
    count: int,
    step: str,
    channel: str,
    sink: SinkProcess | None = None,
    profiler: Profiler | None = None,
    option: str = "--emails",
) -> Rate:
    """Record `count` requests, then time worker rounds until all are sent and published."""
    if (nothing := not_measured(count, option)) is not None:
        return nothing
    run = uuid.uuid4().hex[:6]
    requests = [bench_request(i, step=step, channel=channel, run=run) for i in range(count)]
    await _record(service, requests)
    worker = service.worker
    await worker.documents.start()  # a running service has its PDF workers already
    if profiler is not None:
        profiler.start()
    sink_pids = [sink.pid] if sink is not None and sink.pid is not None else []
    pdf_pids = _pdf_worker_pids(service)
    others = cpu_s(sink_pids), cpu_s(pdf_pids)
    cpu = time.process_time()
    started = time.perf_counter()
    async with asyncio.timeout(DEADLINE_S):
        await worker.drain()
        sent_s = time.perf_counter() - started
        while await _outbox_backlog(service):  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu_ms = 1000 * (time.process_time() - cpu) / count
    sink_ms = 1000 * (cpu_s(sink_pids) - others[0]) / count
    pdf_ms = 1000 * (cpu_s(pdf_pids) - others[1]) / count
    if profiler is not None:
        profiler.stop()
    sent = await _count(service, run, "sent")
    note = (
        f"{sent:,}/{count:,} sent in {seconds:.1f}s incl. outbox published"
        f" (worker done at {sent_s:.1f}s); service process CPU {cpu_ms:.2f} ms each"
        f" (+ PDF workers {pdf_ms:.2f} ms"
        + (f", SMTP sink {sink_ms:.2f} ms)" if sink_pids else ")")
    )
    return Rate(sent / seconds if sent == count else None, note)


async def render_rate(service: Service, count: int) -> Rate:
    """Letters rendered concurrently by the service's DocumentRenderer (template + PDF)."""
    if (nothing := not_measured(count, "--letters")) is not None:
        return nothing
    from notifications.templates.context import template_context
    from notifications.templates.engine import compile_source, render, shipped_source

    run = uuid.uuid4().hex[:6]
    requests = [bench_request(i, step="demand", channel="letter", run=run) for i in range(count)]
    today = dt.date.today()
    documents = service.worker.documents

    async def one(request: NotificationRequested) -> int:
        source = shipped_source("demand", "letter", request.locale)
        assert source is not None
        data = template_context(request, creditor_name="Dunlin Demo GmbH")
        rendered = render(compile_source(source), "letter", data, locale=request.locale)
        return len(await documents.letter(request, rendered, today=today))

    await asyncio.gather(*(one(r) for r in requests[:8]))  # the worker processes start
    started = time.perf_counter()
    sizes = await asyncio.gather(*(one(r) for r in requests))
    seconds = time.perf_counter() - started
    average = sum(sizes) / len(sizes) / 1024
    note = f"{count:,} letters, {documents.workers} PDF worker(s); {average:.0f} kB on average"
    return Rate(count / seconds, note)


async def in_process(infra: Infra, opts: Options, sink: SinkProcess) -> list[Result]:
    """Emails (plain and with the statement PDF) and letters through worker rounds."""
    dunning = await infra.create_topic("dunning", 3)
    invoicing = await infra.create_topic("invoicing", 3)
    await ensure_topics(
        infra.bootstrap,
        [topics.NOTIFICATIONS_EVENTS, topics.dlq_topic(dunning), topics.dlq_topic(invoicing)],
        partitions=3,
    )
    letters_dir = Path(tempfile.mkdtemp(prefix="bench-letters-"))
    settings = NotificationsSettings(
        **service_settings(
            infra,
            (dunning, invoicing),
            smtp_port=sink.port,
            letters_dir=letters_dir,
            pdf_workers=opts.pdf_workers,
            max_per_account=1_000,
        )
    )
    service = bootstrap(settings, run_worker=False)
    profiler = Profiler("notifications_worker") if opts.profile else None
    statements_profiler = (
        Profiler("notifications_worker_statements") if opts.profile_statements else None
    )
    results: list[Result] = []
    await service.runtime.start()
    try:
        plain = await worker_rate(
            service,
            count=opts.emails,
            step="courtesy",
            channel="email",
            sink=sink,
            profiler=profiler,
        )
        with_pdf = await worker_rate(
            service,
            count=opts.statement_emails,
            step="reminder",
            channel="email",
            sink=sink,
            profiler=statements_profiler,
            option="--statement-emails",
        )
        letters = await worker_rate(
            service, count=opts.letters, step="demand", channel="letter", option="--letters"
        )
        rendered = await render_rate(service, opts.letters)
    finally:
        await service.runtime.stop()
        await service.close()
        await asyncio.to_thread(shutil.rmtree, letters_dir, True)
    for used in (profiler, statements_profiler):
        if used is not None:
            used.report()
    results += [
        Result(
            "notifications.emails",
            plain.per_s,
            "emails/s",
            target=EMAIL_TARGET,
            goal="min",
            note=f"courtesy step (no attachment): {plain.note}",
        ),
        Result(
            "notifications.emails_with_statement",
            with_pdf.per_s,
            "emails/s",
            target=EMAIL_TARGET,
            goal="min",
            note=f"reminder step, statement PDF attached: {with_pdf.note}",
        ),
        Result(
            "notifications.letters_delivered",
            letters.per_s,
            "letters/s",
            target=LETTER_TARGET,
            goal="min",
            note=f"worker rounds, PDF into the local post box: {letters.note}",
        ),
        Result(
            "notifications.letters_rendered",
            rendered.per_s,
            "letters/s",
            target=LETTER_TARGET,
            goal="min",
            note=f"template + PDF only: {rendered.note}",
        ),
    ]
    return results


# --- memory of the real service over many deliveries -----------------------------------------


def _children_rss_mb(pid: int) -> tuple[float, int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    total = 0.0
    for child in children:
        with contextlib.suppress(OSError, RuntimeError):
            total += rss_mb(child)
    return total, len(children)


async def _produce(producer: AIOKafkaProducer, topic: str, run: str, start: int, stop: int) -> None:
    for index in range(start, stop):
        request = bench_request(index, step="courtesy", channel="email", run=run)
        record = encode(new_envelope(request, source=SOURCE))
        await producer.send(topic, record.value, key=record.key, headers=record.headers)
        if index % 500 == 0:
            await asyncio.sleep(0)  # let the producer's sender run
    await producer.flush()


async def memory_run(infra: Infra, opts: Options, sink: SinkProcess) -> list[Result]:
    """The service process fed `deliveries` requests through Kafka; RSS at checkpoints."""
    total = opts.deliveries
    if total <= 0:
        note = f"not measured: --deliveries {total} asks for no deliveries"
        return [Result("memory.notifications_deliveries", None, "x", GROWTH_TARGET, "max", note)]
    dunning = await infra.create_topic("mem-dunning", 6)
    invoicing = await infra.create_topic("mem-invoicing", 3)
    await ensure_topics(
        infra.bootstrap,
        [topics.NOTIFICATIONS_EVENTS, topics.dlq_topic(dunning), topics.dlq_topic(invoicing)],
        partitions=3,
    )
    env = service_env(infra)
    for key, value in service_settings(infra, (dunning, invoicing), smtp_port=sink.port).items():
        env[key.upper()] = str(value)
    env.update(
        LOG_LEVEL="WARNING",
        MAX_PER_ACCOUNT="1000",
        LETTERS_DIR=tempfile.mkdtemp(prefix="bench-mem-letters-"),
    )
    name = "memory.notifications_deliveries"
    log_dir = dunlin_home() / "logs" / "bench"
    process = ServiceProcess(
        ServiceSpec("notifications", "notifications", free_port()), env, log_dir
    )
    settings = NotificationsSettings(**service_settings(infra, (dunning, invoicing)))
    counter = bootstrap(settings, run_worker=False)  # only for its sessionmaker
    run = uuid.uuid4().hex[:6]
    checkpoints = [max(1, round(total * share)) for share in CHECKPOINTS]
    rss: list[tuple[int, float, float, int]] = []
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, acks="all", linger_ms=20)
    try:
        await process.migrate()
        await process.serve()
        await process.wait_ready(60)
        assert process.process is not None
        pid = process.process.pid
        idle = rss_mb(pid)
        await producer.start()
        produced, first_sent_at, sent = 0, None, 0
        cpu_from = (0, 0.0)  # (sent, service CPU s) when the first deliveries were seen sent
        started = time.perf_counter()
        async with asyncio.timeout(DEADLINE_S * 3):
            while sent < total:
                # Stay at most 20k ahead: the broker's backlog is not the service's memory.
                if produced < total and produced - sent < 20_000:
                    upto = min(total, produced + 5_000)
                    await _produce(producer, dunning, run, produced, upto)
                    produced = upto
                else:
                    await asyncio.sleep(0.5)
                sent = await _count(counter, run, "sent")
                if sent and first_sent_at is None:
                    first_sent_at = time.perf_counter()
                    cpu_from = (sent, cpu_s([pid]))
                while checkpoints and sent >= checkpoints[0]:
                    children, workers = _children_rss_mb(pid)
                    rss.append((checkpoints.pop(0), rss_mb(pid), children, workers))
                if process.returncode is not None:
                    raise ServiceError(process.failure("exited during the run"))
        seconds = time.perf_counter() - (first_sent_at or started)
        cpu_ms = 1000 * (cpu_s([pid]) - cpu_from[1]) / max(sent - cpu_from[0], 1)
    except (ServiceError, OSError, RuntimeError, TimeoutError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [Result(name, None, "x", GROWTH_TARGET, "max", f"not measured: {first}")]
    finally:
        await producer.stop()
        await process.stop()
        await counter.runtime.engine.dispose()
    rows = [
        Result(
            f"  notifications RSS after {n:,} deliveries",
            mb,
            "MB",
            note=f"+ {children:.0f} MB in {workers} child process(es)" if workers else "",
        )
        for n, mb, children, workers in rss
    ]
    growth = rss[-1][1] / rss[0][1]
    return [
        Result(
            name,
            growth,
            "x",
            target=GROWTH_TARGET,
            goal="max",
            note=f"RSS at {rss[-1][0]:,} over RSS at {rss[0][0]:,} deliveries; idle {idle:.0f} MB;"
            f" courtesy e-mails via Kafka; log {process.log_file}",
        ),
        *rows,
        Result(
            "notifications.e2e_deliveries",
            total / seconds,
            "emails/s",
            note="service process: consumer + worker + SMTP + relay, first to last sent;"
            f" its CPU {cpu_ms:.2f} ms per delivery",
        ),
    ]


async def run(infra: Infra, opts: Options | None = None) -> list[Result]:
    """All measurements against one SMTP sink process."""
    opts = opts or Options()
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=infra.database_url)
    sink = SinkProcess()
    await sink.start()
    results: list[Result] = []
    try:
        results += await in_process(infra, opts, sink)
        if opts.memory:
            results += await memory_run(infra, opts, sink)
    finally:
        received = await sink.stop()
    expected = opts.emails + opts.statement_emails + (opts.deliveries if opts.memory else 0)
    results.append(
        Result(
            "  smtp sink received",
            received,
            "emails",
            note=f"expected {expected:,} (every e-mail sent reached the sink)",
        )
    )
    return results


def count(value: str) -> int:
    """A number of messages: 0 (that row is not measured) or more."""
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return number


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__)
    parser.add_argument("--emails", type=count, default=defaults.emails)
    parser.add_argument("--statement-emails", type=count, default=defaults.statement_emails)
    parser.add_argument("--letters", type=count, default=defaults.letters)
    parser.add_argument("--deliveries", type=count, default=defaults.deliveries, help="memory run")
    parser.add_argument("--pdf-workers", type=count, default=defaults.pdf_workers)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory run")
    parser.add_argument("--profile", action="store_true", help="cProfile the plain e-mail run")
    parser.add_argument(
        "--profile-statements", action="store_true", help="cProfile the statement e-mail run"
    )
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> list[Result]:
    opts = Options(
        emails=args.emails,
        statement_emails=args.statement_emails,
        letters=args.letters,
        deliveries=args.deliveries,
        pdf_workers=args.pdf_workers,
        memory=not args.no_memory,
        profile=args.profile,
        profile_statements=args.profile_statements,
    )
    async with servers() as infra:
        print(f"bench: {infra.origin}; database {infra.database_url}; broker {infra.bootstrap}")
        return await run(infra, opts)


def cli(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.sink:
        asyncio.run(_serve_sink())
        return 0
    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    started = time.monotonic()
    results = asyncio.run(_main(args))
    print()
    print(render(results))
    print(f"\nbench: done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
