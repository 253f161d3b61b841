"""The overdue sweep: announce invoices newly past due or past an aging threshold.

Clock-driven and index-driven: each batch locks only the marks (`invoice_aging`) whose
`next_aging_at` has come (`FOR UPDATE SKIP LOCKED`, so replicas share the work), reads in the
same statement the overdue invoices of the accounts claimed (an index-only scan), writes ONE
AccountOverdue per account and currency with one outbox insert, and moves the marks with one
UPDATE, all in one transaction. Days are counted on the clock's UTC date.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring

from pydantic import TypeAdapter
from sqlalchemy import Date, Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import AccountOverdue, UtcDatetime, minor_text
from dunlin_platform.errors import Backoff, is_transient
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ServiceRuntime
from invoicing.domain.aging import OPEN_STATUSES, sweep_mark
from invoicing.domain.overdue import OverdueGroup, OverdueNotice, overdue_notice

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
def _utc_json(at: dt.datetime) -> str:
    """How an event writes a timestamp (normalised to UTC), as a JSON string; one per sweep."""
    return encode_basestring(str(_UTC.dump_python(_UTC.validate_python(at), mode="json")))


@functools.lru_cache(maxsize=4096)
def _dated(due_date: dt.date, today: dt.date) -> tuple[str, str]:
    """The JSON around an invoice's balance that depends only on its due date (few per sweep)."""
    return (
        f',"due_date":"{due_date.isoformat()}","balance":"',
        f'","days_overdue":{(today - due_date).days}}}',
    )


def account_overdue_json(notice: OverdueNotice, *, as_of: dt.datetime) -> str:
    """The AccountOverdue of a notice, as the JSON the event model would write.

    The sweep writes one event per account that fell overdue, each listing the account's
    overdue invoices: on a worst-case day (100,000 accounts, 800,000 invoices listed) building
    the events through the model, or even through dicts and `json.dumps`, cost more than the
    rest of the sweep. Every value here comes from the ledger's integer minor units and dates;
    strings are escaped as `json.dumps(..., ensure_ascii=False)` does. The unit tests check
    that this text equals what AccountOverdue built from the same notice writes, and validates.
    """
    today, group, currency = as_of.date(), notice.group, notice.group.currency
    invoices = []
    for invoice_id, number, due_date, undisputed in zip(
        group.invoice_ids,
        group.invoice_numbers,
        group.due_dates,
        group.undisputed_minor,
        strict=True,
    ):
        before, after = _dated(due_date, today)
        invoices.append(
            f'{{"invoice_id":{encode_basestring(invoice_id)}'
            f',"invoice_number":{encode_basestring(number)}'
            f"{before}{minor_text(undisputed, currency)}{after}"
        )
    return (
        f'{{"account_id":{encode_basestring(group.account_id)}'
        f',"currency":{encode_basestring(currency)}'
        f',"overdue_balance":"{minor_text(notice.overdue_minor, currency)}"'
        f',"days_overdue":{notice.days_overdue:d},"threshold_days":{notice.threshold_days:d}'
        f',"oldest_due_date":"{notice.oldest_due_date.isoformat()}"'
        f',"as_of":{_utc_json(as_of)},"invoices":[{",".join(invoices)}]}}'
    )


_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)

# One row of parallel arrays, so a batch of thousands of accounts decodes into a dozen lists
# rather than a row and ten lists per account (which also kept the garbage collector busy):
# - the marks claimed: row id, account key, due date, threshold announced, the invoice's
#   status and balance;
# - the account keys: account and currency of key k at position k;
# - what each account key owes past due: open invoices with an undisputed balance, by key,
#   then oldest first (invoice numbers in code point order, as Python sorts them).
#
# Up to :limit due marks are claimed, oldest first, then every other due mark of the same
# accounts, so an account gets one notice per sweep rather than one per batch it straddles.
# Workers take one part of the accounts each (by hash), so no two announce the same account.
# The part test is written `int4eq(...)`, not `=`: the planner then guesses a third of the
# due marks pass it (for `=` on an expression it guesses 0.5%), so it reads the next_aging_at
# index in order and stops at :limit, rather than sorting every due mark of the part in each
# batch (20 ms a batch with 100,000 due, growing with the backlog). Rows other transactions
# hold are skipped. `LATERAL (... OFFSET 0)` keeps the invoice lookups on the primary key:
# with a few thousand keys the planner's costs otherwise prefer a hash join over a scan of
# every invoice, ten times slower with the table in memory. The overdue invoices come from
# ix_invoices_open_account_id_due_date alone (it covers every column read).
_CLAIM = text(f"""
    WITH first AS (
        SELECT account_id FROM invoicing.invoice_aging
        WHERE next_aging_at <= :today
          AND (:parts = 1 OR int4eq((hashtext(account_id) & 2147483647) % :parts, :part))
        ORDER BY next_aging_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS MATERIALIZED (
        SELECT a.ctid AS row_id, a.invoice_id, a.account_id, a.currency, a.due_date,
               a.aging_threshold
        FROM invoicing.invoice_aging AS a
        WHERE a.next_aging_at <= :today
          AND a.account_id IN (SELECT DISTINCT account_id FROM first)
        FOR UPDATE OF a SKIP LOCKED
    ), keys AS MATERIALIZED (
        SELECT account_id, currency, CAST(row_number() OVER () - 1 AS integer) AS k
        FROM (SELECT DISTINCT account_id, currency FROM claimed) AS d
    ), marks AS (
        SELECT c.row_id, k.k, c.due_date, c.aging_threshold, i.status, i.balance_minor
        FROM claimed AS c JOIN keys AS k USING (account_id, currency)
        CROSS JOIN LATERAL (
            SELECT status, balance_minor FROM invoicing.invoices WHERE id = c.invoice_id
            OFFSET 0
        ) AS i
    ), owed AS (
        SELECT k.k, o.n, o.id, o.invoice_number, o.due_date, o.undisputed
        FROM keys AS k CROSS JOIN LATERAL (
            SELECT id, invoice_number, due_date, balance_minor - disputed_minor AS undisputed,
                   row_number() OVER (ORDER BY due_date, invoice_number COLLATE "C") AS n
            FROM invoicing.invoices
            WHERE account_id = k.account_id AND currency = k.currency
              AND status IN ({_OPEN}) AND due_date < :today
              AND balance_minor - disputed_minor > 0
        ) AS o
    )
    SELECT m.*, a.*, o.*
    FROM (
        SELECT array_agg(row_id) AS row_ids, array_agg(k) AS keys,
               array_agg(due_date) AS due_dates, array_agg(aging_threshold) AS announced,
               array_agg(status) AS statuses, array_agg(balance_minor) AS balances
        FROM marks
    ) AS m, (
        SELECT array_agg(account_id ORDER BY k) AS accounts,
               array_agg(currency ORDER BY k) AS currencies
        FROM keys
    ) AS a, (
        SELECT array_agg(k ORDER BY k, n) AS owed_keys, array_agg(id ORDER BY k, n) AS ids,
               array_agg(invoice_number ORDER BY k, n) AS numbers,
               array_agg(due_date ORDER BY k, n) AS owed_due_dates,
               array_agg(undisputed ORDER BY k, n) AS undisputed
        FROM owed
    ) AS o
""").bindparams(  # noqa: S608 (only module constants are interpolated; values are bound)
    bindparam("today", type_=Date),
    bindparam("parts", type_=Integer),
    bindparam("part", type_=Integer),
    bindparam("limit", type_=Integer),
)

# The claimed marks are updated by row id (ctid): they are locked by this transaction since
# the claim, so their row ids cannot change before this UPDATE, which then skips a primary
# key lookup per mark.
_SET_MARKS = text(
    "UPDATE invoicing.invoice_aging AS a"
    " SET aging_threshold = u.threshold, next_aging_at = u.next_at"
    " FROM unnest(CAST(:row_ids AS tid[]), :thresholds, :next_ats) AS u(row_id, threshold, next_at)"
    " WHERE a.ctid = u.row_id"
).bindparams(
    bindparam("thresholds", type_=ARRAY(Integer)),
    bindparam("next_ats", type_=ARRAY(Date)),
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

    Three statements however large the batch: claim (with the overdue balances), outbox,
    marks. The events are built as JSON directly (`account_overdue_json`).
    """
    today = now.date()
    claim = await session.execute(
        _CLAIM, {"today": today, "parts": parts, "part": part, "limit": limit}
    )
    row_ids, mark_keys, due_dates, announced, statuses, balances, *owed = claim.one()
    if not row_ids:
        return 0, 0
    thresholds: list[int] = []
    next_ats: list[dt.date | None] = []
    crossed: dict[int, int] = {}
    for key, due_date, threshold, status, balance in zip(
        mark_keys, due_dates, announced, statuses, balances, strict=True
    ):
        mark, reached = sweep_mark(
            due_date=due_date,
            today=today,
            status=status,
            balance_minor=balance,
            announced=threshold,
        )
        thresholds.append(mark.threshold)
        next_ats.append(mark.next_at)
        if reached > crossed.get(key, 0):
            crossed[key] = reached
    # Each notice becomes its JSON at once, so its objects die young (the garbage collector
    # would otherwise keep walking a batch's thousands of live notices).
    keys: list[str] = []
    payloads: list[str] = []
    for notice in _notices(*owed, crossed=crossed, today=today):
        if notice is not None:
            keys.append(notice.group.account_id)
            payloads.append(account_overdue_json(notice, as_of=now))
    await outbox.add_payloads(session, AccountOverdue, keys, payloads, occurred_at=now)
    await session.execute(
        _SET_MARKS, {"row_ids": row_ids, "thresholds": thresholds, "next_ats": next_ats}
    )
    return len(row_ids), len(payloads)


def _notices(
    accounts: list[str],
    currencies: list[str],
    keys: list[int] | None,
    ids: list[str] | None,
    numbers: list[str] | None,
    due_dates: list[dt.date] | None,
    undisputed: list[int] | None,
    *,
    crossed: Mapping[int, int],
    today: dt.date,
) -> Iterator[OverdueNotice | None]:
    """The notice of each account key that crossed a threshold and owes something past due.

    The owed columns list every key's invoices in one run per key (NULL when none is owed).
    """
    if not keys or ids is None or numbers is None or due_dates is None or undisputed is None:
        return
    start, end = 0, len(keys)
    while start < end:
        key = keys[start]
        stop = start + 1
        while stop < end and keys[stop] == key:
            stop += 1
        if key in crossed:
            owed = undisputed[start:stop]
            group = OverdueGroup(
                accounts[key],
                currencies[key],
                ids[start:stop],
                numbers[start:stop],
                due_dates[start:stop],
                owed,
                sum(owed),
            )
            yield overdue_notice(group, crossed=crossed[key], today=today)
        start = stop


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
