"""Full rescoring: every registered account, in chunks, publishing only material changes."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.outbox import Outbox
from risk import repository as repo
from risk.domain.state import AccountState
from risk.scoring import Outcome, Scorer, score_account


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
        state = AccountState.from_json(row.state)
        # The state is unchanged: it is not rewritten (the largest column).
        score_account(
            row, state, scorer=scorer, now=now, outcome=outcome, as_of=day, keep_state=True
        )
    await repo.save_accounts(session=session, rows=outcome.account_rows)
    await repo.add_history(session=session, rows=outcome.history)
    return outcome, len(rows)


async def rescore_all(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None = None,
    chunk: int = 5000,
    workers: int = 2,
) -> RescoreReport:
    """Rescore every registered account (e.g. after activating a model, or as of a new day).

    The ids are cut into ranges of about `chunk` accounts, each rescored in its own
    transaction; `workers` ranges are in flight at once, so one range's Python work overlaps
    another's database round trips. Ranges are disjoint and each locks its rows in id order
    in one statement, so workers never wait on each other.
    """
    async with sessionmaker() as session:
        bounds = await repo.registered_bounds(session=session, every=chunk)
    ranges = list(zip(["", *bounds], [*bounds, None], strict=True))
    queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
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
    return RescoreReport(totals[0], totals[1])
