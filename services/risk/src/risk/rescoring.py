"""Full rescoring: every registered account, in chunks, publishing only material changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.db import create_engine, create_sessionmaker
from dunlin_platform.outbox import Outbox
from risk import repository as repo
from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES
from risk.domain.state import AccountState
from risk.scoring import Outcome, Scorer, score_account

# Ranges of account ids: (after, upto]; no upper end for the last one.
Range = tuple[str, str | None]


@dataclass(frozen=True)
class RescoreReport:
    """How many accounts were scored and how many events that published."""

    accounts: int
    published: int


async def rescore_chunk(
    *,
    session: AsyncSession,
    after: str,
    upto: str | None,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
) -> tuple[Outcome, int]:
    """Rescore the registered accounts in (after, upto] (locked, in id order)."""
    rows = await repo.lock_registered_between(session=session, after=after, upto=upto)
    outcome = Outcome()
    day = as_of.toordinal() if as_of else None
    for row in rows:
        state = AccountState.loads(row.state)
        # The state is unchanged: it is not rewritten (the largest column).
        score_account(
            row, state, scorer=scorer, now=now, outcome=outcome, as_of=day, keep_state=True
        )
    await repo.save_accounts(session=session, rows=outcome.account_rows)
    await repo.add_history(session=session, rows=outcome.history)
    return outcome, len(rows)


# Hands out the next range to rescore (None: all taken), in this process or shared by several.
NextRange = Callable[[], Range | None]


def _from(ranges: Sequence[Range]) -> NextRange:
    """The ranges one by one, within this process."""
    pending = iter(ranges)
    return lambda: next(pending, None)


async def _rescore_ranges(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
    next_range: NextRange,
    workers: int,
) -> tuple[int, int]:
    """Rescore ranges until none is left, `workers` at a time, each range in its own
    transaction with its events."""
    totals = [0, 0]

    async def work() -> None:
        while (taken := next_range()) is not None:
            after, upto = taken
            async with sessionmaker() as session, session.begin():
                outcome, count = await rescore_chunk(
                    session=session, after=after, upto=upto, scorer=scorer, now=now, as_of=as_of
                )
                if outcome.events:
                    await outbox.add_many(session, outcome.events, occurred_at=now)
            totals[0] += count
            totals[1] += len(outcome.events)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, workers)):
            group.create_task(work())
    return totals[0], totals[1]


# The index of the next range not taken yet, shared by the processes of one rescoring (set in
# each helper process when it starts).
_shared_next: Synchronized[int] | None = None


def _share(counter: Synchronized[int]) -> None:
    global _shared_next  # one per helper process, set once when it starts
    _shared_next = counter


def _shared(counter: Synchronized[int], ranges: Sequence[Range]) -> NextRange:
    """The ranges one by one, each taken by exactly one of the processes sharing `counter`."""

    def take() -> Range | None:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        return ranges[index] if index < len(ranges) else None

    return take


def _rescore_in_process(
    settings: RiskSettings,
    ranges: Sequence[Range],
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
    workers: int,
) -> tuple[int, int]:
    """A helper process: its own engine and outbox writer, taking ranges until none is left."""
    assert _shared_next is not None, "started without the shared range counter"
    next_range = _shared(_shared_next, ranges)

    async def run() -> tuple[int, int]:
        engine = create_engine(settings, pool_size=workers)
        try:
            return await _rescore_ranges(
                sessionmaker=create_sessionmaker(engine),
                outbox=Outbox(table=PLATFORM_TABLES.outbox, source=settings.source),
                scorer=scorer,
                now=now,
                as_of=as_of,
                next_range=next_range,
                workers=workers,
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _process_context() -> multiprocessing.context.BaseContext:
    """Fresh processes forked from a server that imported this module once (no inherited
    event loop, connections or threads; the imports are paid once per service process)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


async def rescore_all(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None = None,
    chunk: int = 5000,
    workers: int = 2,
    processes: int = 1,
    settings: RiskSettings | None = None,
) -> RescoreReport:
    """Rescore every registered account (e.g. after activating a model, or as of a new day).

    The ids are cut into ranges of about `chunk` accounts, each rescored in its own
    transaction (its events staged in the same one); `workers` ranges are in flight at once,
    so one range's Python work overlaps another's database round trips. Ranges are disjoint
    and each locks its rows in id order in one statement, so workers never wait on each other.

    With `processes` > 1 (and the `settings` to connect with), `processes` - 1 helper
    processes, each with its own connections and `workers`, take ranges as this one does,
    each range by exactly one of them: scoring is Python work, one process uses one core.
    """
    async with sessionmaker() as session:
        bounds = await repo.registered_bounds(session=session, every=chunk)
    ranges = list(zip(["", *bounds], [*bounds, None], strict=True))
    work = functools.partial(
        _rescore_ranges,
        sessionmaker=sessionmaker,
        outbox=outbox,
        scorer=scorer,
        now=now,
        as_of=as_of,
        workers=min(workers, len(ranges)),
    )
    if settings is None or processes <= 1 or len(ranges) <= 1:
        return RescoreReport(*await work(next_range=_from(ranges)))
    # This process takes ranges too: it starts at once, while the helpers start up.
    context = _process_context()
    counter = context.Value("q", 0)
    helpers = min(processes, len(ranges)) - 1
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(helpers, mp_context=context, initializer=_share, initargs=(counter,))
    try:
        done = await asyncio.gather(
            work(next_range=_shared(counter, ranges)),
            *(
                loop.run_in_executor(
                    pool,
                    functools.partial(
                        _rescore_in_process, settings, ranges, scorer, now, as_of, workers
                    ),
                )
                for _ in range(helpers)
            ),
        )
    finally:  # after a failure, helpers still finish the ranges they hold: not on this loop
        await asyncio.to_thread(pool.shutdown)
    return RescoreReport(sum(a for a, _ in done), sum(p for _, p in done))
