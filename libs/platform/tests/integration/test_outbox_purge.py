"""The relay's purge of published outbox rows and the partial index that serves it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select

from dunlin_platform.kafka import ProducerHolder
from dunlin_platform.relay import OutboxRelay
from dunlin_platform.testing import outbox_purge_index

from .conftest import Harness

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = dt.datetime.now(dt.UTC)


def _row(n: int, occurred_at: dt.datetime, published_at: dt.datetime | None) -> dict[str, object]:
    return {
        "id": f"e{n}",
        "aggregatetype": "AccountRegistered",
        "aggregateid": f"a{n}",
        "type": "dunlin.account.registered.v1",
        "topic": "invoicing.events",
        "source": "/tests",
        "occurred_at": occurred_at,
        "payload": "{}",
        "published_at": published_at,
    }


async def test_the_purge_index_holds_published_rows_only_and_serves_the_purge(
    harness: Harness,
) -> None:
    async with harness.engine.connect() as conn:
        index = await outbox_purge_index(conn, harness.schema)
    assert index.definition is not None
    assert index.definition.endswith("WHERE (published_at IS NOT NULL)")
    assert "ix_outbox_published_at" in index.plan


async def test_a_missing_purge_index_is_reported_as_none(harness: Harness) -> None:
    async with harness.engine.begin() as conn:
        await conn.exec_driver_sql(f'DROP INDEX "{harness.schema}".ix_outbox_published_at')
        index = await outbox_purge_index(conn, harness.schema)
        await conn.rollback()
    assert index.definition is None
    assert "ix_outbox_published_at" not in index.plan


async def test_the_purge_drops_old_published_rows_and_keeps_the_rest(harness: Harness) -> None:
    old, recent = NOW - dt.timedelta(hours=5), NOW - dt.timedelta(minutes=5)
    table = harness.tables.outbox
    async with harness.engine.begin() as conn:
        await conn.execute(
            insert(table),
            [
                _row(1, old, old),  # published long ago: purged
                _row(2, old, None),  # never published, however old: kept
                _row(3, old, recent),  # published recently: kept
                _row(4, recent, None),
            ],
        )
    settings = harness.settings.model_copy(update={"outbox_retention_hours": 1})
    relay = OutboxRelay(
        settings=settings,
        engine=harness.engine,
        table=table,
        producers=ProducerHolder(settings),
    )
    await relay._purge_published()
    async with harness.engine.connect() as conn:
        left = (await conn.execute(select(table.c.id).order_by(table.c.id))).scalars().all()
    assert left == ["e2", "e3", "e4"]
