"""Recording requests: a batch larger than one statement's parameter limit is kept whole."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import testing
from notifications.db import DeliveryRow
from notifications.handlers import intake


async def test_a_batch_beyond_the_parameter_limit_is_recorded_once_per_notification(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    # 17 columns a row: 2,500 rows need 42,500 parameters, more than one statement may carry.
    requests = [testing.notification_requested() for _ in range(2_500)]
    now = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    async with sessionmaker() as session, session.begin():
        added = await intake.notifications_requested(
            session=session, requests=[*requests, requests[0]], now=now
        )
    ids = [r.notification_id for r in requests]
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).where(DeliveryRow.notification_id.in_(ids))
        )
    assert added == stored == 2_500
