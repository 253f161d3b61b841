"""Through the real consumer: timestamps count on the account's calendar once it is registered."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events.testing import invoice_disputed
from risk.config import RiskSettings
from risk.db import AccountRow
from risk.domain.state import AccountState

from .support import account, eventually, send, unique

MAY_31 = dt.date(2025, 5, 31).toordinal()
JUNE_1 = dt.date(2025, 6, 1).toordinal()


async def test_a_dispute_opened_at_3_utc_counts_from_the_previous_day_in_los_angeles(
    settings: RiskSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    acc = account(time_zone="America/Los_Angeles")
    # One topic, one key: consumed in this order. The first dispute comes before the account is
    # known to risk, so it is dated on the UTC calendar; the second on Los Angeles' (20:00, 31 May).
    early = invoice_disputed(
        account_id=acc.account_id, dispute_id=unique("dsp"), opened_at="2025-06-01T03:00:00Z"
    )
    local = invoice_disputed(
        account_id=acc.account_id, dispute_id=unique("dsp"), opened_at="2025-06-01T03:00:00Z"
    )
    await send(settings, early, acc, local)
    state = AccountState()

    async def folded() -> bool:
        nonlocal state
        async with sessionmaker() as session:
            stored = await session.scalar(
                select(AccountRow.state).where(AccountRow.account_id == acc.account_id)
            )
        if stored is None:
            return False
        state = AccountState.loads(stored)
        return {early.dispute_id, local.dispute_id} <= state.disputes.keys()

    await eventually(folded)
    assert state.disputes[local.dispute_id] == [MAY_31, 0]
    assert state.disputes[early.dispute_id] == [JUNE_1, 0]
    assert state.time_zone == "America/Los_Angeles"
