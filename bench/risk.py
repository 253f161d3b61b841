"""Risk: incremental scoring through the real consumer, and full rescoring of 100k accounts."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.consumer import Progress
from bench.corpus import produce
from bench.infra import Infra, servers
from bench.results import Result, render
from dunlin_events import Event, KafkaRecord, encode, new_envelope
from dunlin_events.testing import (
    account_registered,
    external_signal_reported,
    invoice_issued,
    invoice_settled,
    promise_to_pay_broken,
)
from dunlin_platform.clock import ManualClock
from dunlin_platform.migrations import upgrade
from dunlin_platform.runtime import ServiceRuntime
from risk.config import RiskSettings
from risk.consumers import consumer_specs
from risk.db import PLATFORM_TABLES, AccountRow
from risk.domain import synthetic
from risk.registry import ModelRegistry
from risk.rescoring import rescore_all
from risk.scoring import PointsCard

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services" / "risk" / "alembic.ini"
NOW = dt.datetime(2025, 6, 1, 6, 0, tzinfo=dt.UTC)
PARTITIONS = 6
DEADLINE_S = 300.0
INSERT_CHUNK = 5_000


def _invoice(account_id: str, n: int, issue: dt.date) -> Event:
    line = {
        "description": "W",
        "quantity": "1",
        "unit_price": "1000.00",
        "tax_rate": "0",
        "net_amount": "1000.00",
        "tax_amount": "0",
    }
    return invoice_issued(
        account_id=account_id,
        invoice_id=f"{account_id}-i{n}",
        invoice_number=f"N-{n}",
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        lines=[line],
        subtotal="1000.00",
        tax_total="0",
        total="1000.00",
        early_payment_discount=None,
    )


def _days_late(rng: random.Random) -> int:
    """Most B2B invoices are paid on time or a few days late; a few are paid much later."""
    draw = rng.random()
    if draw < 0.70:
        return 0
    if draw < 0.90:
        return rng.randint(1, 10)
    if draw < 0.98:
        return rng.randint(11, 30)
    return rng.randint(31, 60)


def event_mix(events: int, accounts: int, *, seed: int = 11) -> dict[str, list[Event]]:
    """Registrations, then invoices and their settlements (mostly on time), rare broken
    promises (1 invoice in 50) and rare bureau signals (1 in 100): most events do not move a
    score by 5 points, as in a real portfolio (first scores of new accounts always publish)."""
    rng = random.Random(seed)
    ids = [f"risk-bench-{i:06d}" for i in range(accounts)]
    mix: dict[str, list[Event]] = {
        "invoicing": [account_registered(account_id=a, credit_limit="20000.00") for a in ids],
        "dunning": [],
        "signals": [],
    }
    made = accounts
    n = 0
    while made < events:
        account_id = ids[n % accounts]
        issue = dt.date(2025, 1, 1) + dt.timedelta(days=(n // accounts) * 7 % 150)
        invoice = _invoice(account_id, n, issue)
        mix["invoicing"].append(invoice)
        due = issue + dt.timedelta(days=30)
        days_late = _days_late(rng)
        mix["invoicing"].append(
            invoice_settled(
                account_id=account_id,
                invoice_id=f"{account_id}-i{n}",
                total="1000.00",
                paid_amount="1000.00",
                due_date=due,
                settled_on=due + dt.timedelta(days=days_late),
                days_late=days_late,
            )
        )
        made += 2
        if rng.random() < 0.02:
            mix["dunning"].append(
                promise_to_pay_broken(
                    account_id=account_id,
                    promise_id=f"p-{n}",
                    broken_on=(due + dt.timedelta(days=10)).isoformat(),
                )
            )
            made += 1
        if rng.random() < 0.01:
            mix["signals"].append(
                external_signal_reported(
                    account_id=account_id,
                    signal_id=f"s-{n}",
                    kind=rng.choice(["bureau_downgrade", "bureau_upgrade", "negative_news"]),
                    severity=rng.randint(1, 4),
                    observed_on=due.isoformat(),
                )
            )
            made += 1
        n += 1
    return mix


def _records(events: list[Event], source: str) -> list[KafkaRecord]:
    return [encode(new_envelope(e, source=source)) for e in events]


async def incremental(infra: Infra, *, events: int, accounts: int, batch_size: int) -> list[Result]:
    """Produce the mix (untimed), then time the real consumer until every event is applied."""
    names = {k: await infra.create_topic(f"risk-{k}", PARTITIONS) for k in ("inv", "dun", "sig")}
    payments = await infra.create_topic("risk-pay", PARTITIONS)
    settings = RiskSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap,
        invoicing_events_topic=names["inv"],
        payments_events_topic=payments,
        dunning_events_topic=names["dun"],
        risk_signals_topic=names["sig"],
        consumer_batch_size=batch_size,
        consumer_poll_timeout_ms=100,
        log_format="text",
        log_level="WARNING",
    )
    mix = event_mix(events, accounts)
    total = sum(len(v) for v in mix.values())
    await produce(infra.bootstrap, names["inv"], _records(mix["invoicing"], "/dunlin/invoicing"))
    await produce(infra.bootstrap, names["dun"], _records(mix["dunning"], "/dunlin/dunning"))
    await produce(infra.bootstrap, names["sig"], _records(mix["signals"], "/bureau"))
    # Relay off: this measures consuming, folding, scoring and staging events in the outbox.
    runtime = ServiceRuntime(
        settings, tables=PLATFORM_TABLES, clock=ManualClock(NOW), run_relay=False
    )
    for spec in consumer_specs(
        settings=settings, outbox=runtime.outbox, clock=runtime.clock, registry=ModelRegistry()
    ):
        consumer = runtime.add_consumer(spec)
    progress = Progress(total)
    started = time.perf_counter()
    await runtime.start()
    try:
        async with asyncio.timeout(DEADLINE_S):
            done = 0
            while done < total:
                await asyncio.sleep(0.01)
                if consumer.processed_total != done:  # a batch committed
                    done = consumer.processed_total
                    progress.mark(done)
        seconds = time.perf_counter() - started
        async with runtime.sessionmaker() as session:
            scored = await session.scalar(
                select(func.count()).select_from(AccountRow).where(AccountRow.score.is_not(None))
            )
            staged = await session.scalar(select(func.count()).select_from(PLATFORM_TABLES.outbox))
    finally:
        await runtime.stop()
    assert progress.first is not None
    joined = progress.first[0] - started
    note = (
        f"{total:,} events over {accounts:,} accounts, batch {batch_size}, 4 topics;"
        f" {scored:,} accounts scored, {staged:,} events staged; from the first applied batch"
        f" to the last (as consumer.c_dunlin_pipeline), start-up excluded"
    )
    return [
        Result("risk.incremental", progress.rate, "events/s", 5_000, "min", note),
        Result(
            "risk.incremental.with_start_up",
            total / seconds,
            "events/s",
            note=f"the same run from runtime.start(): first batch applied after {joined:.1f} s"
            " (consumer start-up and group join, the same for any number of events)",
        ),
    ]


async def full_rescore(infra: Infra, *, accounts: int, chunk: int) -> list[Result]:
    """Seed `accounts` registered accounts with synthetic states, then time a full rescoring."""
    settings = RiskSettings(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.bootstrap
    )
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, run_relay=False)
    samples = [
        json.dumps(synthetic.state_at(a, synthetic.SNAPSHOT_DAY).to_json())
        for a in synthetic.portfolio(500, seed=3)
    ]
    prefix = uuid.uuid4().hex[:6]
    try:
        for at in range(0, accounts, INSERT_CHUNK):
            rows = [
                {
                    "account_id": f"rescore-{prefix}-{i:07d}",
                    "registered": True,
                    "state": samples[i % len(samples)],
                    "reasons": [],
                    "actions": [],
                    "updated_at": NOW,
                }
                for i in range(at, min(accounts, at + INSERT_CHUNK))
            ]
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(insert(AccountRow), rows)
        timings = []
        # First scores as of the day after the snapshot (every account publishes), then the
        # nightly rescoring a day later (everything aged by one day; few material changes).
        first_day = dt.date.fromordinal(synthetic.SNAPSHOT_DAY + 1)
        for as_of in (first_day, first_day + dt.timedelta(days=1)):
            started = time.perf_counter()
            report = await rescore_all(
                sessionmaker=runtime.sessionmaker,
                outbox=runtime.outbox,
                scorer=PointsCard(),
                now=NOW,
                as_of=as_of,
                chunk=chunk,
                processes=settings.rescore_processes,
                settings=settings,
            )
            timings.append((time.perf_counter() - started, report))
    finally:
        await runtime.stop()
    return [
        Result(
            f"risk.full_rescore.{'first' if label == 'first' else 'again'}",
            seconds,
            "s",
            30,
            "max",
            f"{report.accounts:,} accounts in chunks of {chunk}, as of {label} day;"
            f" {report.published:,} events (RiskAssessed, CreditLimitRecommended) staged",
        )
        for label, (seconds, report) in zip(("first", "next"), timings, strict=True)
    ]


async def run(
    infra: Infra,
    events: int = 50_000,
    accounts: int = 5_000,
    rescore_accounts: int = 100_000,
    batch_size: int = 1_000,
    chunk: int = 5_000,
    only: str | None = None,
) -> list[Result]:
    """Both risk benchmarks (or `only` one) on a freshly migrated risk schema."""
    await asyncio.to_thread(upgrade, alembic_ini=ALEMBIC_INI, database_url=infra.database_url)
    results = []
    if only in (None, "incremental"):
        results += await incremental(infra, events=events, accounts=accounts, batch_size=batch_size)
    if only in (None, "rescore"):
        results += await full_rescore(infra, accounts=rescore_accounts, chunk=chunk)
    return results


async def _main(args: argparse.Namespace) -> None:
    async with servers() as infra:
        results = await run(
            infra,
            events=args.events,
            accounts=args.accounts,
            rescore_accounts=args.rescore_accounts,
            batch_size=args.batch_size,
            only=args.only,
        )
    print(render(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.risk", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--rescore-accounts", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--only", choices=("incremental", "rescore"), default=None)
    asyncio.run(_main(parser.parse_args()))
