"""The overdue sweep's one-statement batch against the per-step path it replaced.

The per-step path (`claim_due`, `overdue_groups` and `set_marks` in `per_step_sweep.py`,
one statement each) is the oracle: on generated portfolios (several currencies, closed,
disputed and not yet due invoices, ties on due dates, invoice numbers that sort differently
by collation, marks in every state) a sweep to the end writes the same AccountOverdue
payloads and leaves the same marks either way. Then several replicas sweep one portfolio at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from dunlin_devstack import databases
from dunlin_platform.db import create_sessionmaker
from dunlin_platform.migrations import upgrade
from dunlin_platform.outbox import Outbox
from invoicing.db import PLATFORM_TABLES
from invoicing.domain.aging import AgingMark, sweep_mark
from invoicing.domain.overdue import overdue_notice
from invoicing.overdue import account_overdue_json, sweep_batch, sweep_overdue

from . import per_step_sweep as repo

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
TODAY = dt.date(2026, 6, 30)
NOW = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)
pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass(frozen=True)
class Invoice:
    """One generated invoice and its sweep mark."""

    account: int
    number: str
    currency: str
    days_overdue: int
    status: str
    balance_minor: int
    disputed_minor: int
    announced: int
    next_in_days: int | None  # next_aging_at relative to TODAY; None: out of the sweep


@st.composite
def portfolios(draw: st.DrawFn) -> list[Invoice]:
    invoices = []
    for account in range(draw(st.integers(1, 6))):
        # Numbers unique per account; "B" < "a" and "é" > "z" in code points, not in most locales.
        numbers = draw(
            st.lists(st.text("aBzé19-", min_size=1, max_size=3), max_size=6, unique=True)
        )
        for number in numbers:
            status = draw(st.sampled_from(["open", "open", "partially_paid", "paid", "cancelled"]))
            balance = draw(st.sampled_from([0, 1, 995, 50_000]) | st.integers(0, 50_000))
            invoices.append(
                Invoice(
                    account=account,
                    number=number,
                    currency=draw(st.sampled_from(["EUR", "EUR", "JPY", "KWD"])),
                    days_overdue=draw(st.sampled_from([-3, 0, 1, 1, 2, 30, 31, 45, 61, 91, 130])),
                    status=status,
                    balance_minor=balance,
                    disputed_minor=draw(
                        st.sampled_from([0, 0, balance // 2, balance]) | st.integers(0, balance)
                    ),
                    announced=draw(st.sampled_from([0, 0, 1, 31, 61, 91])),
                    next_in_days=draw(st.sampled_from([None, -40, -1, 0, 0, 1, 20])),
                )
            )
    return invoices


@pytest.fixture(scope="module")
def database(dunlin_postgres_server: str) -> str:
    """A fresh invoicing schema of this module's own: the sweep takes every due mark."""
    return databases.with_database(
        dunlin_postgres_server, f"dunlin_sweep_sql_{uuid.uuid4().hex[:10]}"
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine(dunlin_postgres_server: str, database: str) -> AsyncIterator[AsyncEngine]:
    name = database.rsplit("/", 1)[1]
    await databases.ensure_database(dunlin_postgres_server, name)
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=database)
    engine = create_async_engine(database)
    try:
        yield engine
    finally:
        await engine.dispose()
        await databases.drop_database(dunlin_postgres_server, name)


async def insert(conn: AsyncConnection, invoices: Sequence[Invoice], prefix: str) -> None:
    """The accounts, invoices and marks, as the ledger and earlier sweeps would leave them."""
    accounts = sorted({i.account for i in invoices})
    await conn.execute(
        text(
            "INSERT INTO invoicing.accounts (id, name, currency, time_zone, locale, terms_kind,"
            " terms_days, tags, contacts, created_at)"
            " SELECT a, a, 'EUR', 'UTC', 'en', 'net', 30, '{}', '[]', now()"
            " FROM unnest(CAST(:ids AS text[])) AS a"
        ),
        {"ids": [f"{prefix}a{a}" for a in accounts]},
    )
    rows: list[dict[str, Any]] = [
        {
            "id": f"{prefix}i{n}",
            "account_id": f"{prefix}a{i.account}",
            "number": i.number,
            "currency": i.currency,
            "due_date": TODAY - dt.timedelta(days=i.days_overdue),
            "status": i.status,
            "balance": i.balance_minor,
            "disputed": i.disputed_minor,
            "announced": i.announced,
            "next_at": None
            if i.next_in_days is None
            else TODAY + dt.timedelta(days=i.next_in_days),
        }
        for n, i in enumerate(invoices)
    ]
    if not rows:
        return
    await conn.execute(
        text(
            "INSERT INTO invoicing.invoices (id, account_id, invoice_number, currency,"
            " issue_date, due_date, terms_kind, terms_days, subtotal_minor, tax_total_minor,"
            " total_minor, balance_minor, disputed_minor, status, source, created_at)"
            " VALUES (:id, :account_id, :number, :currency, :due_date, :due_date, 'net', 30,"
            " :balance, 0, :balance, :balance, :disputed, :status, 'api', now())"
        ),
        rows,
    )
    await conn.execute(
        text(
            "INSERT INTO invoicing.invoice_aging (invoice_id, account_id, currency, due_date,"
            " aging_threshold, next_aging_at)"
            " VALUES (:id, :account_id, :currency, :due_date, :announced, :next_at)"
        ),
        rows,
    )


async def per_step_batch(session: AsyncSession, limit: int) -> tuple[int, list[tuple[str, str]]]:
    """The sweep batch as it was: claim, overdue groups, marks, one statement each."""
    today = NOW.date()
    rows = await repo.claim_due(session=session, today=today, limit=limit)
    marks: dict[str, AgingMark] = {}
    crossed: dict[tuple[str, str], int] = {}
    for row in rows:
        marks[row.id], reached = sweep_mark(
            due_date=row.due_date,
            today=today,
            status=row.status,
            balance_minor=row.balance_minor,
            announced=row.announced,
        )
        if reached > crossed.get(key := (row.account_id, row.currency), 0):
            crossed[key] = reached
    groups = await repo.overdue_groups(session=session, keys=crossed, today=today)
    events = []
    for group in groups:
        notice = overdue_notice(
            group, crossed=crossed[(group.account_id, group.currency)], today=today
        )
        if notice is not None:
            events.append((group.account_id, account_overdue_json(notice, as_of=NOW)))
    await repo.set_marks(session=session, marks=marks)
    return len(rows), events


Marks = list[tuple[str, int, dt.date | None]]


async def outbox_events(conn: AsyncConnection, prefix: str) -> list[tuple[str, str]]:
    rows = await conn.execute(
        text("SELECT aggregateid, payload FROM invoicing.outbox WHERE aggregateid LIKE :p"),
        {"p": f"{prefix}%"},
    )
    return sorted((str(account), str(payload)) for account, payload in rows)


async def stored_marks(conn: AsyncConnection, prefix: str) -> Marks:
    rows = await conn.execute(
        text(
            "SELECT invoice_id, aging_threshold, next_aging_at FROM invoicing.invoice_aging"
            " WHERE invoice_id LIKE :p ORDER BY invoice_id"
        ),
        {"p": f"{prefix}%"},
    )
    return [(str(i), int(t), n) for i, t, n in rows]


async def sweep_to_the_end(
    conn: AsyncConnection, *, limit: int, per_step: bool, prefix: str
) -> tuple[list[tuple[str, str]], Marks]:
    """Every batch until nothing is due, in the connection's transaction."""
    outbox = Outbox(table=PLATFORM_TABLES.outbox, source="/dunlin/invoicing")
    events: list[tuple[str, str]] = []
    async with AsyncSession(bind=conn) as session:
        while True:
            if per_step:
                claimed, written = await per_step_batch(session, limit)
                events += written
            else:
                claimed, _ = await sweep_batch(session=session, outbox=outbox, now=NOW, limit=limit)
            if claimed == 0:
                break
    if not per_step:
        events = await outbox_events(conn, prefix)
    return sorted(events), await stored_marks(conn, prefix)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(invoices=portfolios(), limit=st.integers(1, 8))
async def test_one_statement_batches_write_what_the_per_step_path_wrote(
    engine: AsyncEngine, invoices: list[Invoice], limit: int
) -> None:
    states = []
    for per_step in (True, False):
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await insert(conn, invoices, prefix="p-")
            states.append(await sweep_to_the_end(conn, limit=limit, per_step=per_step, prefix="p-"))
            await transaction.rollback()
    oracle, swept = states
    assert swept == oracle
    # At most one notice per account and currency.
    assert len(swept[0]) <= len({(i.account, i.currency) for i in invoices})


def payload_facts(payload: str) -> tuple[str, list[Any]]:
    """What every notice of an account must say however the work was split."""
    event = json.loads(payload)
    return event["overdue_balance"], event["invoices"]


async def test_replicas_sweeping_at_once_move_every_mark_once(
    engine: AsyncEngine,
) -> None:
    invoices = [
        Invoice(
            a, f"N-{n}", "EUR" if a % 3 else "JPY", 1 + (a * n) % 100, "open", 1000 + n, 0, 0, 0
        )
        for a in range(300)
        for n in range(1 + a % 4)
    ]
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await insert(conn, invoices, prefix="r-")
        oracle_events, oracle_marks = await sweep_to_the_end(
            conn, limit=50, per_step=True, prefix="r-"
        )
        await transaction.rollback()
    async with engine.begin() as conn:
        await insert(conn, invoices, prefix="r-")

    outbox = Outbox(table=PLATFORM_TABLES.outbox, source="/dunlin/invoicing")
    replicas = [create_async_engine(engine.url, pool_size=3) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(
                sweep_overdue(
                    sessionmaker=create_sessionmaker(replica),
                    outbox=outbox,
                    now=NOW,
                    batch_size=17,
                    workers=2,
                )
                for replica in replicas
            )
        )
    finally:
        for replica in replicas:
            await replica.dispose()

    assert sum(r.invoices_examined for r in results) == len(invoices)
    async with engine.connect() as conn:
        events = await outbox_events(conn, "r-")
        marks = await stored_marks(conn, "r-")
    assert marks == oracle_marks
    # Every mark was moved by exactly one batch, as one sweep moves it. An account whose marks
    # two replicas claimed at the same instant is announced by both, each time with everything
    # it owes.
    expected = {account: payload_facts(payload) for account, payload in oracle_events}
    assert {account for account, _ in events} == set(expected)
    assert all(payload_facts(payload) == expected[account] for account, payload in events)
    again = await sweep_overdue(
        sessionmaker=create_sessionmaker(engine), outbox=outbox, now=NOW, batch_size=17, workers=2
    )
    assert again.invoices_examined == 0
