"""Full rescoring shared among processes scores and publishes exactly what one process does."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES, AccountRow
from risk.domain import synthetic
from risk.rescoring import _process_context, rescore_all
from risk.runtime import RiskRuntime
from risk.scoring import PointsCard

from .support import unique

# Long before the app's clock: these assessments stay out of other tests' 30-day movers.
NOW = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)
SCORED = (
    AccountRow.score,
    AccountRow.tier,
    AccountRow.reasons,
    AccountRow.actions,
    AccountRow.published_score,
    AccountRow.published_tier,
    AccountRow.recommended_limit_minor,
)


async def _scores(
    sessionmaker: async_sessionmaker[AsyncSession], prefix: str
) -> list[tuple[Any, ...]]:
    query = select(*SCORED).where(AccountRow.account_id.startswith(prefix))
    async with sessionmaker() as session:
        return [tuple(r) for r in await session.execute(query.order_by(AccountRow.account_id))]


async def _published(sessionmaker: async_sessionmaker[AsyncSession], prefix: str) -> int:
    outbox = PLATFORM_TABLES.outbox
    query = select(func.count()).where(outbox.c.aggregateid.startswith(prefix))
    async with sessionmaker() as session:
        return int((await session.execute(query)).scalar_one())


def _warm_up() -> None:
    with ProcessPoolExecutor(1, mp_context=_process_context()) as pool:
        pool.submit(int).result()


async def test_rescoring_in_processes_gives_what_one_process_gives(
    settings: RiskSettings,
    runtime: RiskRuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Two copies of the same 12 never-scored accounts: one scored in this process, the
    # other by three processes sharing ranges of one account.
    states = [
        json.dumps(synthetic.state_at(a, synthetic.SNAPSHOT_DAY).to_json())
        for a in synthetic.portfolio(12, seed=4)
    ]
    here, there = unique("rs-here") + "-", unique("rs-there") + "-"
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(AccountRow),
            [
                {
                    "account_id": f"{prefix}{i:03d}",
                    "registered": True,
                    "state": state,
                    "reasons": [],
                    "actions": [],
                    "updated_at": NOW,
                }
                for prefix in (here, there)
                for i, state in enumerate(states)
            ],
        )
        # The second copy waits, unregistered, until the first is scored.
        await session.execute(
            update(AccountRow)
            .where(AccountRow.account_id.startswith(there))
            .values(registered=False)
        )
    one = await rescore_all(
        sessionmaker=sessionmaker, outbox=runtime.outbox, scorer=PointsCard(), now=NOW, chunk=3
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(AccountRow)
            .where(AccountRow.account_id.startswith(there))
            .values(registered=True)
        )
    # A warm fork server: helpers join at once and take their share of the ranges.
    await asyncio.to_thread(_warm_up)
    async with sessionmaker() as session:
        registered = await session.scalar(
            select(func.count()).select_from(AccountRow).where(AccountRow.registered)
        )
    several = await rescore_all(
        sessionmaker=sessionmaker,
        outbox=runtime.outbox,
        scorer=PointsCard(),
        now=NOW,
        chunk=1,
        processes=3,
        settings=settings,
    )

    expected = await _scores(sessionmaker, here)
    assert len(expected) == len(states)
    assert all(score is not None for score, *_ in expected)
    assert await _scores(sessionmaker, there) == expected
    # Every account once (no range skipped or taken twice), each first score published once.
    assert several.accounts == registered == one.accounts + len(states)
    assert await _published(sessionmaker, there) == await _published(sessionmaker, here) > 0
    assert several.published >= await _published(sessionmaker, there)
