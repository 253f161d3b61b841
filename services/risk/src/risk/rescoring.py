"""Full rescoring: every registered account, in chunks, publishing only material changes."""

from __future__ import annotations

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
    limit: int,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None,
) -> tuple[Outcome, str | None, int]:
    """Rescore the next `limit` registered accounts after `after` (locked, in id order)."""
    rows = await repo.lock_registered_after(session=session, after=after, limit=limit)
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
    return outcome, rows[-1].account_id if rows else None, len(rows)


async def rescore_all(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    scorer: Scorer,
    now: dt.datetime,
    as_of: dt.date | None = None,
    chunk: int = 5000,
) -> RescoreReport:
    """Rescore every registered account (e.g. after activating a model, or as of a new day)."""
    after, accounts, published = "", 0, 0
    while True:
        async with sessionmaker() as session, session.begin():
            outcome, last, count = await rescore_chunk(
                session=session, after=after, limit=chunk, scorer=scorer, now=now, as_of=as_of
            )
            if outcome.events:
                await outbox.add(session, *outcome.events, occurred_at=now)
        accounts += count
        published += len(outcome.events)
        if last is None or count < chunk:
            return RescoreReport(accounts, published)
        after = last
