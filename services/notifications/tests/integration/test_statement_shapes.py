"""The hot paths send the same SQL for any batch size (a text per size grew the process)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dunlin_platform.clock import ManualClock
from notifications.db import AttemptRow, DeliveryRow
from notifications.handlers import intake
from notifications.handlers.worker import DeliveryWorker
from notifications.repository import deliveries as repo

from .support import request

PARAMETER = re.compile(r"\$\d+")


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL text the engine sends while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def engine_of(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessionmaker.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, now: dt.datetime
) -> list[str]:
    requests = [request() for _ in range(count)]
    async with sessionmaker() as session, session.begin():
        added = await intake.notifications_requested(
            session=session, requests=[*requests, *requests[:1]], now=now
        )
    assert added == count
    return [r.notification_id for r in requests]


async def test_requests_are_recorded_with_one_statement_whatever_the_batch_size(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    with statements_sent(engine_of(sessionmaker)) as sent:
        ids = [i for count in (1, 3, 40) for i in await record(sessionmaker, count, clock.now())]
    inserts = {s for s in sent if "INSERT INTO" in s}
    assert len(inserts) == 1
    async with sessionmaker() as session:
        rows = (
            await session.scalars(select(DeliveryRow).where(DeliveryRow.notification_id.in_(ids)))
        ).all()
    assert len(rows) == 44
    first = rows[0]
    assert (first.status, first.channel_index, first.attempt) == ("queued", 0, 0)
    assert first.channels == ["email", "letter"]
    assert first.request["notification_id"] == first.notification_id
    assert first.next_attempt_at == first.created_at == clock.now()


async def test_a_notification_recorded_again_adds_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    req = request()
    async with sessionmaker() as session, session.begin():
        assert await intake.notifications_requested(
            session=session, requests=[req], now=clock.now()
        )
    async with sessionmaker() as session, session.begin():
        assert not await intake.notifications_requested(
            session=session, requests=[req], now=clock.now()
        )
        assert not await repo.record_requests(session=session, rows=[])


@pytest.mark.parametrize(
    ("change", "column"),
    [(lambda row: row.pop("traceparent"), "traceparent"), (lambda row: row.update(x=1), "x")],
)
async def test_a_delivery_row_with_other_columns_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, change: Any, column: str
) -> None:
    row = intake.delivery_values(request(), now=clock.now())
    change(row)
    async with sessionmaker() as session, session.begin():
        with pytest.raises(ValueError, match=column):
            await repo.record_requests(session=session, rows=[row])


async def test_a_value_too_long_for_its_column_is_refused_not_cut(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    row = intake.delivery_values(request(), now=clock.now()) | {"notification_id": "n" * 101}
    with pytest.raises(DBAPIError, match="too long"):
        async with sessionmaker() as session, session.begin():
            await repo.record_requests(session=session, rows=[row])
    async with sessionmaker() as session:
        stored = select(func.count()).where(DeliveryRow.notification_id.startswith("n" * 100))
        assert await session.scalar(stored) == 0


async def test_no_statement_of_a_worker_round_grows_with_the_rows_it_handles(
    sessionmaker: async_sessionmaker[AsyncSession], worker: DeliveryWorker, clock: ManualClock
) -> None:
    count = 60
    ids = await record(sessionmaker, count, clock.now())
    with statements_sent(engine_of(sessionmaker)) as sent:
        while await worker.run_once():
            pass
    widest = max(len(set(PARAMETER.findall(s))) for s in sent)
    assert widest < count, "a statement carries a parameter per row"
    async with sessionmaker() as session:
        delivered = select(func.count()).where(
            DeliveryRow.notification_id.in_(ids), DeliveryRow.status == "sent"
        )
        attempts = (
            select(func.count())
            .select_from(AttemptRow)
            .join(DeliveryRow, DeliveryRow.id == AttemptRow.delivery_id)
            .where(DeliveryRow.notification_id.in_(ids), AttemptRow.status == "sent")
        )
        assert await session.scalar(delivered) == count
        assert await session.scalar(attempts) == count
