"""Time the overdue sweep and the aging report on a generated portfolio.

    .venv/bin/python services/invoicing/scripts/bench_aging.py --invoices 1000000 --due 100000

Starts a throw-away database (the devstack's: DATABASE_URL, Docker or embedded), migrates it,
generates accounts and invoices with generate_series, then times: a sweep with nothing due,
a sweep with `--due` invoices newly overdue spread over `--due-accounts` accounts (by
default one per account: the worst case, one event each), and the aging report (all, one
currency, one tagged portfolio, one account).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from dunlin_devstack import databases, testing
from dunlin_platform.db import create_sessionmaker
from dunlin_platform.migrations import upgrade
from dunlin_platform.outbox import Outbox
from invoicing.db import PLATFORM_TABLES
from invoicing.overdue import SweepResult, sweep_overdue
from invoicing.reporting.queries import Scope
from invoicing.reporting.reports import AgingReport, aging_report

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
TODAY = dt.date(2026, 6, 30)
WORKERS = 2

ACCOUNTS = """
INSERT INTO invoicing.accounts (id, name, currency, time_zone, locale, terms_kind, terms_days,
    tags, contacts, created_at)
SELECT 'acc-' || a, 'Account ' || a, CASE WHEN a % 5 = 0 THEN 'USD' ELSE 'EUR' END, 'UTC',
    'en', 'net', 30, ARRAY['p' || (a % 10)], '[]'::jsonb, now()
FROM generate_series(0, :accounts - 1) AS a
"""
# Invoice i belongs to account i % accounts, except that the first `due` invoices (due
# yesterday, never announced) belong to the first `due_accounts` accounts. The others are due
# between 150 days ago and 30 days ahead, with the thresholds they already crossed announced
# (as earlier sweeps would have left them).
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


async def timed(label: str, work: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await work
    print(f"{label:<48} {1000 * (time.perf_counter() - started):9.1f} ms  {result}")
    return result


async def main(invoices: int, due: int, accounts: int, due_accounts: int) -> None:
    with testing.postgres_server() as server:
        name = f"dunlin_bench_{uuid.uuid4().hex[:8]}"
        await databases.ensure_database(server, name)
        url = databases.with_database(server, name)
        try:
            await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=url)
            engine = create_async_engine(url)
            params = {
                "accounts": accounts,
                "invoices": invoices,
                "due": due,
                "due_accounts": due_accounts,
                "today": TODAY,
            }
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(text(ACCOUNTS), params)
                await conn.execute(text(INVOICES), params)
                await conn.execute(text(MARKS), params)
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE invoicing.invoices"))
                await conn.execute(text("VACUUM ANALYZE invoicing.accounts"))
                await conn.execute(text("VACUUM ANALYZE invoicing.invoice_aging"))
            print(f"generated {invoices} invoices in {time.perf_counter() - started:.1f} s")
            sessions = create_sessionmaker(engine)
            outbox = Outbox(table=PLATFORM_TABLES.outbox, source="/dunlin/invoicing")
            now = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)

            def sweep(at: dt.datetime) -> Awaitable[SweepResult]:
                return sweep_overdue(
                    sessionmaker=sessions, outbox=outbox, now=at, batch_size=5000, workers=WORKERS
                )

            await timed("sweep, nothing due (the day before)", sweep(now - dt.timedelta(days=1)))
            await timed(f"sweep, {due} newly overdue", sweep(now))
            await timed("sweep again, nothing new", sweep(now))
            for label, scope in [
                ("aging, all currencies", Scope()),
                ("aging, EUR", Scope(currency="EUR")),
                ("aging, portfolio p3", Scope(tag="p3")),
                ("aging, one account", Scope(account_id="acc-42")),
            ]:
                async with sessions() as session:
                    await timed(
                        label,
                        _aging(
                            aging_report(session=session, as_of=TODAY, today=TODAY, scope=scope)
                        ),
                    )
            await engine.dispose()
        finally:
            await databases.drop_database(server, name)


async def _aging(work: Awaitable[AgingReport]) -> dict[str, int]:
    report = await work
    return {c: sum(b.count for b in buckets.values()) for c, buckets in report.currencies.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--due-accounts", type=int, default=100_000, help="accounts the newly overdue belong to"
    )
    args = parser.parse_args()
    asyncio.run(main(args.invoices, args.due, args.accounts, args.due_accounts))
