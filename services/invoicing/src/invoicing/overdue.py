"""The overdue sweep: announce invoices newly past due or past an aging threshold.

Clock-driven and index-driven: each batch locks only the marks (`invoice_aging`) whose
`next_aging_at` has come (`FOR UPDATE SKIP LOCKED`, so replicas share the work), sums the
accounts' overdue balances in SQL, writes ONE AccountOverdue per account and currency with
one outbox insert, and moves the marks with one UPDATE, all in one transaction. Days are
counted on the clock's UTC date.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import AccountOverdue, UtcDatetime, minor_text
from dunlin_platform.errors import Backoff, is_transient
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ServiceRuntime
from invoicing.domain.aging import AgingMark, sweep_mark
from invoicing.domain.overdue import OverdueNotice, overdue_notice
from invoicing.repository import aging as repo

log = logging.getLogger(__name__)

MAX_BATCHES_PER_SWEEP = 10_000


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did."""

    as_of: dt.datetime
    invoices_examined: int = 0
    notices: int = 0
    batches: int = 0


_UTC = TypeAdapter(UtcDatetime)


@functools.lru_cache(maxsize=16)
def _utc_text(at: dt.datetime) -> str:
    """How an event writes a timestamp (normalised to UTC); a sweep has one `as_of`."""
    return str(_UTC.dump_python(_UTC.validate_python(at), mode="json"))


def account_overdue_json(notice: OverdueNotice, *, as_of: dt.datetime) -> str:
    """The AccountOverdue of a notice, as the JSON the event model would write.

    The sweep writes one event per account that fell overdue: on a worst-case day (100,000
    accounts) validating each event's amounts cost more than the rest of the sweep. Every value
    here comes from the ledger's integer minor units and dates, and the unit tests check that
    this text equals what AccountOverdue built from the same notice writes, and validates.
    """
    today, group, currency = as_of.date(), notice.group, notice.group.currency
    return json.dumps(
        {
            "account_id": group.account_id,
            "currency": currency,
            "overdue_balance": minor_text(notice.overdue_minor, currency),
            "days_overdue": notice.days_overdue,
            "threshold_days": notice.threshold_days,
            "oldest_due_date": notice.oldest_due_date.isoformat(),
            "as_of": _utc_text(as_of),
            "invoices": [
                {
                    "invoice_id": invoice_id,
                    "invoice_number": number,
                    "due_date": due_date.isoformat(),
                    "balance": minor_text(undisputed, currency),
                    "days_overdue": (today - due_date).days,
                }
                for invoice_id, number, due_date, undisputed in zip(
                    group.invoice_ids,
                    group.invoice_numbers,
                    group.due_dates,
                    group.undisputed_minor,
                    strict=True,
                )
            ],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def sweep_batch(
    *,
    session: AsyncSession,
    outbox: Outbox,
    now: dt.datetime,
    limit: int,
    part: int = 0,
    parts: int = 1,
) -> tuple[int, int]:
    """One batch in the caller's transaction: (invoices claimed, notices written).

    Four statements however large the batch: claim, overdue balances, outbox, marks.
    The events are built as JSON directly (`account_overdue_json`).
    """
    today = now.date()
    rows = await repo.claim_due(session=session, today=today, limit=limit, part=part, parts=parts)
    if not rows:
        return 0, 0
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
    notices = (
        overdue_notice(g, crossed=crossed[(g.account_id, g.currency)], today=today) for g in groups
    )
    announced = [n for n in notices if n is not None]
    await outbox.add_payloads(
        session,
        AccountOverdue,
        [n.group.account_id for n in announced],
        [account_overdue_json(n, as_of=now) for n in announced],
        occurred_at=now,
    )
    await repo.set_marks(session=session, marks=marks)
    return len(rows), len(announced)


async def sweep_overdue(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    now: dt.datetime,
    batch_size: int,
    workers: int = 1,
) -> SweepResult:
    """Sweep until nothing is due: `workers` concurrent loops of one transaction per batch.

    Workers split the accounts by hash, so the database works on one batch while Python
    builds the events of another, and each account still gets one notice per sweep.
    """

    async def worker(part: int) -> tuple[int, int, int]:
        examined = notices = batches = 0
        for _ in range(MAX_BATCHES_PER_SWEEP):
            async with sessionmaker() as session, session.begin():
                claimed, written = await sweep_batch(
                    session=session,
                    outbox=outbox,
                    now=now,
                    limit=batch_size,
                    part=part,
                    parts=workers,
                )
            if claimed == 0:
                break
            examined, notices, batches = examined + claimed, notices + written, batches + 1
            if claimed < batch_size:
                break
        return examined, notices, batches

    totals = await asyncio.gather(*(worker(part) for part in range(workers)))
    return SweepResult(
        as_of=now,
        invoices_examined=sum(t[0] for t in totals),
        notices=sum(t[1] for t in totals),
        batches=sum(t[2] for t in totals),
    )


class OverdueSweeper:
    """Runs the sweep every `interval_s` with the runtime's clock, until stopped."""

    def __init__(
        self, runtime: ServiceRuntime, *, interval_s: float, batch_size: int, workers: int = 1
    ) -> None:
        self._runtime = runtime
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.workers = workers
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> SweepResult:
        """One sweep as of the clock's now."""
        result = await sweep_overdue(
            sessionmaker=self._runtime.sessionmaker,
            outbox=self._runtime.outbox,
            now=self._runtime.clock.now(),
            batch_size=self.batch_size,
            workers=self.workers,
        )
        if result.invoices_examined:
            log.info(
                "overdue sweep: %d invoices, %d notices in %d batches",
                result.invoices_examined,
                result.notices,
                result.batches,
            )
        return result

    def start(self) -> None:
        """Start the loop in the background (an interval of 0 disables it)."""
        if self.interval_s > 0 and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="overdue-sweep")

    async def stop(self) -> None:
        """Let the current batch commit, then end the loop."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = Backoff(maximum=max(self.interval_s, 1.0))
        while not self._stop.is_set():
            wait = self.interval_s
            try:
                await self.sweep_once()
                backoff.reset()
            except Exception as exc:
                # The loop must outlive a database outage or a bad row; the next sweep retries.
                log.exception("overdue sweep failed (transient: %s)", is_transient(exc))
                wait = backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
