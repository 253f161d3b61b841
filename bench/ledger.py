"""Ledger: the overdue sweep and the aging report over a generated portfolio of 1M invoices.

    .tools/bin/uv run --frozen python -m bench.ledger --invoices 1000000 --due 100000

Migrates the invoicing schema into the run's database, generates accounts and invoices with
`generate_series`, runs `VACUUM ANALYZE`, then times, as issue #3 asks: a sweep with nothing
due (the day before), a sweep with `--due` invoices newly overdue (by default one per account,
the worst case: one `AccountOverdue` with its outbox row per invoice), the same sweep again
(nothing new), and the aging report (all currencies, one currency, one tagged portfolio, one
account). The sweep runs with the service's defaults (batch size and workers from
`InvoicingSettings`). The newly-overdue row also gives the CPU that sweep used, in this
process (Python) and in the server processes of the run's database (read from /proc, so
only for a server on this machine), which moves far less than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.infra import Infra, servers
from bench.results import Result
from dunlin_platform.db import create_sessionmaker
from dunlin_platform.migrations import upgrade
from dunlin_platform.outbox import Outbox
from invoicing.config import InvoicingSettings
from invoicing.db import PLATFORM_TABLES
from invoicing.overdue import SweepResult, sweep_overdue
from invoicing.reporting.queries import Scope
from invoicing.reporting.reports import aging_report

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services" / "invoicing" / "alembic.ini"
TODAY = dt.date(2026, 6, 30)
T = TypeVar("T")

ACCOUNTS = """
INSERT INTO invoicing.accounts (id, name, currency, time_zone, locale, terms_kind, terms_days,
    tags, contacts, created_at)
SELECT 'acc-' || a, 'Account ' || a, CASE WHEN a % 5 = 0 THEN 'USD' ELSE 'EUR' END, 'UTC',
    'en', 'net', 30, ARRAY['p' || (a % 10)], '[]'::jsonb, now()
FROM generate_series(0, :accounts - 1) AS a
"""
# Invoice i belongs to account i % accounts, except that the first `due` invoices (due
# yesterday, never announced) belong to the first `due_accounts` accounts. The others are due
# between 150 days ago and 30 days ahead, a seventh partially paid, a thirteenth paid, with
# the thresholds they already crossed announced (as earlier sweeps would have left them).
INVOICES = """
INSERT INTO invoicing.invoices (id, account_id, invoice_number, currency, issue_date, due_date,
    terms_kind, terms_days, subtotal_minor, tax_total_minor, total_minor, balance_minor, status,
    source, created_at)
SELECT 'inv-' || i, 'acc-' || a, 'N-' || i, CASE WHEN a % 5 = 0 THEN 'USD' ELSE 'EUR' END,
    due - 30, due, 'net', 30, 10000 + i % 997, 0, 10000 + i % 997,
    CASE WHEN i % 7 = 0 THEN 5000 ELSE 10000 + i % 997 END,
    CASE WHEN i % 7 = 0 THEN 'partially_paid' WHEN i % 13 = 0 THEN 'paid' ELSE 'open' END,
    'api', now()
FROM (
    SELECT i, CASE WHEN i < :due THEN i % :due_accounts ELSE i % :accounts END AS a,
        CAST(:today AS date) + CASE WHEN i < :due THEN -1 ELSE (i % 181) - 150 END AS due
    FROM generate_series(0, :invoices - 1) AS i
) AS g
"""
# The sweep's marks: the first `due` invoices never announced and due today, the others with
# the thresholds they already crossed announced and their next one ahead (paid ones out).
MARKS = """
INSERT INTO invoicing.invoice_aging (invoice_id, account_id, currency, due_date,
    aging_threshold, next_aging_at)
SELECT id, account_id, currency, due_date,
    CASE WHEN i < :due THEN 0 ELSE (SELECT coalesce(max(t), 0) FROM unnest(ARRAY[1, 31, 61, 91])
        AS t WHERE t <= CAST(:today AS date) - due_date) END,
    CASE WHEN i % 13 = 0 AND i >= :due THEN NULL WHEN i < :due THEN CAST(:today AS date)
        ELSE (SELECT due_date + min(t) FROM unnest(ARRAY[1, 31, 61, 91]) AS t
              WHERE due_date + t > CAST(:today AS date))
    END
FROM (SELECT *, CAST(substr(id, 5) AS integer) AS i FROM invoicing.invoices) AS g
"""


async def generate(
    engine: AsyncEngine, *, invoices: int, due: int, accounts: int, due_accounts: int
) -> None:
    """The portfolio, in three statements, then statistics for the planner."""
    params = {
        "accounts": accounts,
        "invoices": invoices,
        "due": due,
        "due_accounts": due_accounts,
        "today": TODAY,
    }
    async with engine.begin() as conn:
        # The run's database is shared with the other benchmarks (the HTTP one issues invoices).
        await conn.execute(
            text(
                "TRUNCATE invoicing.invoice_aging, invoicing.invoices, invoicing.accounts,"
                " invoicing.outbox CASCADE"
            )
        )
        for statement in (ACCOUNTS, INVOICES, MARKS):
            await conn.execute(text(statement), params)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("invoices", "accounts", "invoice_aging"):
            await conn.execute(text(f"VACUUM ANALYZE invoicing.{table}"))


async def timed(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Seconds `work()` took, and what it returned."""
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local PostgreSQL process, from /proc; None otherwise."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None  # a server elsewhere (another host, a container): not our pid space
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_cpu(engine: AsyncEngine) -> dict[int, float | None]:
    """CPU seconds used so far by each server process connected to the run's database."""
    async with engine.connect() as conn:
        pids = await conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return {pid: _cpu_seconds(pid) for pid in pids}


def cpu_used(before: dict[int, float | None], after: dict[int, float | None]) -> float | None:
    """CPU seconds the server processes used in between (None when /proc cannot tell)."""
    if None in before.values() or None in after.values():
        return None
    return sum((a or 0.0) - (before.get(pid) or 0.0) for pid, a in after.items())


async def run(
    infra: Infra,
    *,
    invoices: int = 1_000_000,
    due: int = 100_000,
    accounts: int = 100_000,
    due_accounts: int | None = None,
) -> list[Result]:
    """The overdue-sweep and aging targets of issue #3 against a fresh invoicing schema."""
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=infra.database_url)
    settings = InvoicingSettings(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.bootstrap
    )
    due_accounts = due_accounts or min(due, accounts)
    engine = create_async_engine(infra.database_url, pool_size=settings.overdue_sweep_workers + 2)
    try:
        started = time.perf_counter()
        await generate(
            engine, invoices=invoices, due=due, accounts=accounts, due_accounts=due_accounts
        )
        generated = time.perf_counter() - started
        sessions = create_sessionmaker(engine)
        outbox = Outbox(table=PLATFORM_TABLES.outbox, source="/dunlin/invoicing")
        now = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)
        batch, workers = settings.overdue_sweep_batch_size, settings.overdue_sweep_workers

        def sweep(at: dt.datetime) -> Callable[[], Awaitable[SweepResult]]:
            return lambda: sweep_overdue(
                sessionmaker=sessions, outbox=outbox, now=at, batch_size=batch, workers=workers
            )

        idle = [(await timed(sweep(now - dt.timedelta(days=1))))[0] for _ in range(5)]
        # CPU, not only wall time: on a shared machine it is the figure that stays put.
        backends = await backend_cpu(engine)
        python_cpu = time.process_time()
        seconds, swept = await timed(sweep(now))
        python_cpu = time.process_time() - python_cpu
        postgres_cpu = cpu_used(backends, await backend_cpu(engine))
        again, _ = await timed(sweep(now))
        async with engine.connect() as conn:
            events = (
                await conn.execute(select(func.count()).select_from(PLATFORM_TABLES.outbox))
            ).scalar_one()
        aging: dict[str, float] = {}
        for label, scope in [
            ("all", Scope()),
            ("EUR", Scope(currency="EUR")),
            ("portfolio p3", Scope(tag="p3")),
            ("one account", Scope(account_id="acc-42")),
        ]:
            runs = []
            for _ in range(3):
                async with sessions() as session:
                    started = time.perf_counter()
                    await aging_report(session=session, as_of=TODAY, today=TODAY, scope=scope)
                    runs.append(time.perf_counter() - started)
            aging[label] = statistics.median(runs)
    finally:
        await engine.dispose()
    portfolio = f"{invoices:,} invoices, {accounts:,} accounts (generated in {generated:.0f} s)"
    cpu = f"; CPU {python_cpu:.1f} s Python"
    if postgres_cpu is not None:
        per_invoice = 1e6 * (python_cpu + postgres_cpu) / max(swept.invoices_examined, 1)
        cpu += f" + {postgres_cpu:.1f} s PostgreSQL backends ({per_invoice:.0f} us per invoice)"
    return [
        Result(
            "ledger.overdue_sweep_nothing_due",
            1000 * statistics.median(idle),
            "ms",
            target=50.0,
            goal="max",
            note=f"{portfolio}; median of 5",
        ),
        Result(
            "ledger.overdue_sweep_100k_due",
            seconds if swept.invoices_examined >= due else None,
            "s",
            target=10.0,
            goal="max",
            note=(
                f"{swept.invoices_examined:,} invoices newly overdue in {due_accounts:,} accounts"
                f" -> {swept.notices:,} AccountOverdue ({events:,} outbox rows), batch {batch},"
                f" {workers} workers; the same sweep again {1000 * again:.0f} ms{cpu}"
            ),
        ),
        Result(
            "ledger.aging_report_1m",
            aging["all"],
            "s",
            target=1.0,
            goal="max",
            note=(
                "all currencies; median of 3; one currency {EUR:.2f} s, one portfolio"
                " {p:.2f} s, one account {a:.3f} s"
            ).format(EUR=aging["EUR"], p=aging["portfolio p3"], a=aging["one account"]),
        ),
    ]


async def _main(args: argparse.Namespace) -> None:
    async with servers() as infra:
        results = await run(
            infra,
            invoices=args.invoices,
            due=args.due,
            accounts=args.accounts,
            due_accounts=args.due_accounts,
        )
    for r in results:
        print(f"{r.name:34} {r.value!s:>22} {r.unit:3} target {r.target} {r.verdict}  {r.note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--due-accounts", type=int, default=None, help="accounts the newly overdue belong to"
    )
    asyncio.run(_main(parser.parse_args()))
