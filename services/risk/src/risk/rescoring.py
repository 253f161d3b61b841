"""Full rescoring: every registered account, in chunks, publishing only material changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

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


async def _rescore_ranges(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
    ranges: Sequence[Range],
    workers: int,
) -> tuple[int, int]:
    """Rescore these ranges, `workers` at a time, each in its own transaction with its events."""
    queue: asyncio.Queue[Range] = asyncio.Queue()
    for item in ranges:
        queue.put_nowait(item)
    totals = [0, 0]

    async def work() -> None:
        while not queue.empty():
            after, upto = queue.get_nowait()
            async with sessionmaker() as session, session.begin():
                outcome, count = await rescore_chunk(
                    session=session, after=after, upto=upto, scorer=scorer, now=now, as_of=as_of
                )
                if outcome.events:
                    await outbox.add_many(session, outcome.events, occurred_at=now)
            totals[0] += count
            totals[1] += len(outcome.events)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(workers, len(ranges)))):
            group.create_task(work())
    return totals[0], totals[1]


def _rescore_in_process(
    settings: RiskSettings,
    ranges: Sequence[Range],
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
    workers: int,
) -> tuple[int, int]:
    """A rescoring process: its own engine and outbox writer over its share of the ranges."""

    async def run() -> tuple[int, int]:
        engine = create_engine(settings, pool_size=workers)
        try:
            return await _rescore_ranges(
                sessionmaker=create_sessionmaker(engine),
                outbox=Outbox(table=PLATFORM_TABLES.outbox, source=settings.source),
                scorer=scorer,
                now=now,
                as_of=as_of,
                ranges=ranges,
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

    With `processes` > 1 (and the `settings` to connect with), the ranges are shared out
    among that many processes, each with its own connections and `workers`: scoring is
    Python work, and one process uses one core.
    """
    async with sessionmaker() as session:
        bounds = await repo.registered_bounds(session=session, every=chunk)
    ranges = list(zip(["", *bounds], [*bounds, None], strict=True))
    if settings is None or processes <= 1 or len(ranges) <= 1:
        accounts, published = await _rescore_ranges(
            sessionmaker=sessionmaker,
            outbox=outbox,
            scorer=scorer,
            now=now,
            as_of=as_of,
            ranges=ranges,
            workers=workers,
        )
        return RescoreReport(accounts, published)
    shares = [ranges[i::processes] for i in range(min(processes, len(ranges)))]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(len(shares), mp_context=_process_context()) as pool:
        done = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    functools.partial(
                        _rescore_in_process, settings, share, scorer, now, as_of, workers
                    ),
                )
                for share in shares
            )
        )
    return RescoreReport(sum(a for a, _ in done), sum(p for _, p in done))
