"""The outbox's indexes: `seq` is the primary key, the relay's statements each use an index,
and a published batch marks exactly its own rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from dunlin_platform.kafka import ProducerHolder
from dunlin_platform.outbox import Outbox
from dunlin_platform.relay import OutboxRelay
from dunlin_platform.testing import outbox_indexes

from .conftest import Harness, account_registered

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_event_adds_two_bigint_entries_seq_key_and_unpublished(
    harness: Harness,
) -> None:
    async with harness.engine.connect() as conn:
        indexes = await outbox_indexes(conn, harness.schema)
    table = f"{harness.schema}.outbox"
    assert indexes.definitions == {
        "pk_outbox": f"CREATE UNIQUE INDEX pk_outbox ON {table} USING btree (seq)",
        "ix_outbox_unpublished": f"CREATE INDEX ix_outbox_unpublished ON {table}"
        " USING btree (seq) WHERE (published_at IS NULL)",
        "ix_outbox_published_at": f"CREATE INDEX ix_outbox_published_at ON {table}"
        " USING btree (published_at) WHERE (published_at IS NOT NULL)",
    }


async def test_the_relay_reads_by_the_unpublished_index_and_marks_by_the_primary_key(
    harness: Harness,
) -> None:
    async with harness.engine.connect() as conn:
        indexes = await outbox_indexes(conn, harness.schema)
    assert "Index Scan using ix_outbox_unpublished" in indexes.read, indexes.read
    assert "Sort" not in indexes.read, indexes.read
    # A plain or a bitmap index scan, by the table's statistics: either way by the key.
    assert "Seq Scan" not in indexes.mark, indexes.mark
    assert "pk_outbox" in indexes.mark, indexes.mark
    assert "ix_outbox_published_at" in indexes.purge, indexes.purge


async def test_a_batch_marks_exactly_the_oldest_rows_it_published(harness: Harness) -> None:
    table = harness.tables.outbox
    outbox = Outbox(table=table, source="/tests")
    async with async_sessionmaker(harness.engine)() as session, session.begin():
        await outbox.add_many(session, [account_registered(f"a{n}") for n in range(5)])
    settings = harness.settings.model_copy(update={"outbox_batch_size": 3})
    producers = ProducerHolder(settings)
    relay = OutboxRelay(settings=settings, engine=harness.engine, table=table, producers=producers)
    producers.start()
    try:
        producer = await producers.get()
        first = await relay.publish_batch(producer)
        async with harness.engine.connect() as conn:
            query = select(table.c.aggregateid, table.c.published_at.isnot(None))
            marked = (await conn.execute(query.order_by(table.c.seq))).all()
        rest = await relay.publish_batch(producer)
    finally:
        await producers.stop()
    assert first == 3
    assert [tuple(row) for row in marked] == [
        ("a0", True),
        ("a1", True),
        ("a2", True),
        ("a3", False),
        ("a4", False),
    ]
    assert rest == 2
