"""Dunning: due sweep over 100k due cases, sweep over 1M cases with nothing due, event handling."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import statistics
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.cpu import CpuMeter, CpuSample
from bench.infra import Infra, servers, settle
from bench.results import Result
from dunlin_events import Envelope, Event, InvoiceIssued
from dunlin_events.testing import (
    account_registered,
    invoice_issued,
    payment_received,
    risk_assessed,
)
from dunlin_platform.clock import ManualClock
from dunlin_platform.inbox import claim_new
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from dunning.config import DunningSettings
from dunning.db import PLATFORM_TABLES
from dunning.domain.facts import apply
from dunning.domain.state import AccountState
from dunning.handlers import apply_events
from dunning.sweep import sweep_once

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services" / "dunning" / "alembic.ini"
NOW = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)
PLACEHOLDER = "ACCOUNT-PLACEHOLDER"


def _invoice(account_id: str, due: dt.date, total: str = "1000.00") -> InvoiceIssued:
    line = {
        "description": "W",
        "quantity": "1",
        "unit_price": total,
        "tax_rate": "0",
        "net_amount": total,
        "tax_amount": "0",
    }
    return invoice_issued(
        account_id=account_id,
        invoice_id=f"inv-{uuid.uuid4().hex[:12]}",
        invoice_number="N-1",
        currency="EUR",
        issue_date=due - dt.timedelta(days=30),
        due_date=due,
        lines=[line],
        subtotal=total,
        tax_total="0",
        total=total,
        early_payment_discount=None,
        payment_terms=None,
    )


def due_state_template() -> str:
    """A typical account two days overdue: its next sweep skips courtesy and sends the reminder."""
    state = AccountState(account_id=PLACEHOLDER)
    contacts = [
        {
            "contact_id": "ap",
            "name": "Ada",
            "role": "accounts_payable",
            "email": "ap@x.example",
            "phone": "+4930123456",
        }
    ]
    at = NOW - dt.timedelta(days=40)
    apply(
        state,
        account_registered(account_id=PLACEHOLDER, contacts=contacts, tags=[], time_zone="UTC"),
        event_id="e1",
        at=at,
    )
    apply(state, _invoice(PLACEHOLDER, NOW.date() - dt.timedelta(days=2)), event_id="e2", at=at)
    return state.model_dump_json(exclude_defaults=True)


async def _fill(
    runtime: ServiceRuntime, *, count: int, state: str, next_at: dt.datetime, prefix: str
) -> None:
    """Insert `count` cases; the caller analyzes the table once it is complete (settle, or
    idle_sweep after its paused cases)."""
    chunk = 100_000
    for start in range(0, count, chunk):
        async with runtime.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO dunning.cases"
                    " (account_id, status, next_action_at, state, updated_at)"
                    " SELECT CAST(:prefix AS text) || g, 'idle', CAST(:next_at AS timestamptz),"
                    " CAST(replace(CAST(:state AS text), CAST(:ph AS text),"
                    " CAST(:prefix AS text) || g) AS jsonb), now() "
                    "FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS g"
                ),
                {
                    "prefix": prefix,
                    "next_at": next_at,
                    "state": state,
                    "ph": PLACEHOLDER,
                    "lo": start,
                    "hi": min(start + chunk, count) - 1,
                },
            )


async def _clear(runtime: ServiceRuntime) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE dunning.cases, dunning.outbox, dunning.audit, dunning.tasks")
        )


async def due_sweep(
    runtime: ServiceRuntime, cases: int, batch: int, workers: int, processes: int
) -> list[Result]:
    """Time one sweep executing `cases` due steps, with their audit rows and outbox events."""
    await _clear(runtime)
    await _fill(runtime, count=cases, state=due_state_template(), next_at=NOW, prefix="due-")
    settled = await settle(runtime.engine, "dunning.cases")
    # Its own single connection, as in bench/consumer.py: each sample leaves out the backend
    # that reads /proc. Sampling through the runtime's pool, a pooled backend left out of the
    # first sample but not of the second is counted "from zero", i.e. with all the CPU it ever
    # used (the fill's INSERT, the event handling): +13 us/case in a harness whose pool held
    # two connections. The bench's pool usually holds one, so its figure rarely showed it.
    meter_engine = create_async_engine(runtime.settings.database_url, pool_size=1, max_overflow=0)
    meter = CpuMeter(meter_engine)
    try:
        pg_started = await _postgres_cpu(meter_engine, meter)
        cpu_started = _python_cpu()
        started = time.perf_counter()
        done = await sweep_once(runtime, batch_size=batch, workers=workers, processes=processes)
        seconds = time.perf_counter() - started
        cpu = _python_cpu() - cpu_started
        pg_ended = await _postgres_cpu(meter_engine, meter)
    finally:
        await meter_engine.dispose()
    pg = (
        None
        if pg_started is None or pg_ended is None
        else pg_ended[0]
        - pg_started[0]
        + (CpuMeter.between(pg_started[1], pg_ended[1], 1).postgres_us or 0.0)
    )
    async with runtime.engine.connect() as conn:
        events = (
            await conn.execute(select(func.count()).select_from(PLATFORM_TABLES.outbox))
        ).scalar_one()
    note = (
        f"{done:,} cases swept, {events:,} outbox events written, batch {batch}, "
        f"{workers} workers x {processes} processes; Python CPU {cpu:.1f} s "
        f"({cpu / max(done, 1) * 1e6:.0f} us/case, helpers included, the database's not)"
        + (
            ""
            if pg is None
            else f"; PostgreSQL backends CPU {pg / 1e6:.1f} s ({pg / max(done, 1):.0f} us/case)"
        )
        + f"; {settled}"
    )
    return [
        Result(
            "dunning.sweep_due_100k",
            seconds if done == cases else None,
            "s",
            target=10.0,
            goal="max",
            note=note,
        )
    ]


async def _postgres_cpu(engine: AsyncEngine, meter: CpuMeter) -> tuple[float, CpuSample] | None:
    """The run database's backends' CPU: exited ones (the helpers' connections, reaped by the
    postmaster: its children's CPU, in us) and a sample of the live ones; None if not local.
    """
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    exited_us = _exited_backends_us(pid)
    if exited_us is None:
        return None
    return exited_us, await meter.sample()


def _exited_backends_us(backend_pid: int) -> float | None:
    """CPU of the postmaster's reaped children (cutime + cstime), in us; None if not local."""
    try:
        with open(f"/proc/{backend_pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{ppid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK") * 1e6


def _python_cpu() -> float:
    """CPU seconds of this process and of its reaped children (the sweep's helpers).

    On a shared machine the wall time mostly measures the load; CPU per case does not.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def idle_sweep(
    runtime: ServiceRuntime, cases: int, batch: int, workers: int, processes: int
) -> list[Result]:
    """Time sweeps over `cases` cases none of which is due (half paused, half due later)."""
    await _clear(runtime)
    tiny = '{"account_id": "' + PLACEHOLDER + '"}'
    later = NOW + dt.timedelta(days=30)
    await _fill(runtime, count=cases // 2, state=tiny, next_at=later, prefix="later-")
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO dunning.cases (account_id, status, next_action_at, state, updated_at) "
                "SELECT 'paused-' || g, 'idle', NULL, CAST('{}' AS jsonb), now() "
                "FROM generate_series(1, CAST(:n AS int)) AS g"
            ),
            {"n": cases - cases // 2},
        )
        await conn.execute(text("ANALYZE dunning.cases"))
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        done = await sweep_once(runtime, batch_size=batch, workers=workers, processes=processes)
        timings.append((time.perf_counter() - started) * 1000)
        assert done == 0
    return [
        Result(
            "dunning.sweep_nothing_due_1m",
            statistics.median(timings),
            "ms",
            target=50.0,
            goal="max",
            note=f"{cases:,} cases, none due; median of 7 (policy read + index probes)",
        )
    ]


async def event_handling(runtime: ServiceRuntime, accounts: int, batch: int) -> list[Result]:
    """Events/s through the consumer's transaction: inbox, fold, evaluate, upsert, outbox."""
    await _clear(runtime)
    envelopes: list[Envelope[Event]] = []
    for n in range(accounts):
        acc = f"ev-{n}"
        invoice = _invoice(acc, NOW.date() + dt.timedelta(days=n % 40 - 20))
        for event in (
            account_registered(account_id=acc, tags=[], time_zone="UTC"),
            invoice,
            payment_received(
                account_id=acc,
                payment_id=f"pay-{n}",
                amount="100.00",
                currency="EUR",
                received_on=NOW.date(),
                remittance=[],
                unapplied_amount="0",
                allocations=[{"invoice_id": invoice.invoice_id, "amount": "100.00"}],
            ),
            risk_assessed(account_id=acc, tier="high", assessed_at=NOW),
        ):
            envelopes.append(
                Envelope(
                    id=str(uuid.uuid4()),
                    type=event.ce_type(),
                    source="/bench",
                    time=NOW,
                    subject=acc,
                    data=event,
                )
            )
    inbox = PLATFORM_TABLES.inbox
    started = time.perf_counter()
    for at in range(0, len(envelopes), batch):
        chunk = envelopes[at : at + batch]
        async with runtime.sessionmaker() as session, session.begin():
            fresh = await claim_new(
                session, table=inbox, consumer="bench", event_ids=[e.id for e in chunk]
            )
            await apply_events(
                session=session,
                outbox=runtime.outbox,
                envelopes=[e for e in chunk if e.id in fresh],
                now=NOW,
            )
    seconds = time.perf_counter() - started
    rate = len(envelopes) / seconds
    return [
        Result(
            "dunning.event_handling",
            rate,
            "events/s",
            target=5_000,
            goal="min",
            note=f"{len(envelopes):,} events, {accounts:,} accounts, batch {batch}; "
            "handler transaction without the broker",
        )
    ]


async def run(
    infra: Infra,
    *,
    due_cases: int = 100_000,
    idle_cases: int = 1_000_000,
    accounts: int = 5_000,
    batch: int = 2_000,
) -> list[Result]:
    """The three dunning targets against a fresh dunning schema."""
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=infra.database_url)
    settings = DunningSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap,
        environment="test",
        log_format="text",
    )
    runtime = ServiceRuntime(
        settings, tables=PLATFORM_TABLES, clock=ManualClock(NOW), run_relay=False
    )
    try:
        results = await event_handling(runtime, accounts, 1_000)
        results += await due_sweep(
            runtime, due_cases, batch, settings.sweep_workers, settings.sweep_processes
        )
        results += await idle_sweep(
            runtime, idle_cases, batch, settings.sweep_workers, settings.sweep_processes
        )
    finally:
        await runtime.stop()
    return results


async def _main(args: argparse.Namespace) -> None:
    async with servers() as infra:
        results = await run(infra, due_cases=args.due, idle_cases=args.idle, accounts=args.accounts)
    for r in results:
        print(
            f"{r.name:32} {r.value if r.value is None else round(r.value, 2)!s:>12} {r.unit:9} "
            f"target {r.target} -> {r.verdict}  ({r.note})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--idle", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    asyncio.run(_main(parser.parse_args()))
