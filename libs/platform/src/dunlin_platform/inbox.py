"""The inbox: ids of processed events, written in the same transaction as their effects."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    TextClause,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dunlin_platform.errors import sqlstate_of
from dunlin_platform.text_columns import text_array_sql, text_parameter

# A claim refused by the inbox's key: the exclusion constraint's code, and a unique
# violation's for a schema still at its primary key (before the migration that replaced it).
_ALREADY_THERE = frozenset({"23P01", "23505"})

KEY_SEPARATOR = "\x1f"
"""Joins consumer and event id in the inbox's key; never part of a consumer name, so the
first one splits the key unambiguously (an event id may hold it)."""

CONSTRAINT = "ex_inbox_consumer_event_id"
_KEY = f"(consumer || E'\\x{ord(KEY_SEPARATOR):02x}' || event_id)"
KEY_DDL = f"EXCLUDE USING hash ({_KEY} WITH =)"
"""One row per (consumer, event id), kept by a hash index rather than a btree primary key.

Claiming is most of what the inbox costs: every consumed event inserts one row. With the
two-text btree primary key PostgreSQL spent ~3 us per id in the consumer benchmark (the
key's insert into a random leaf of a growing index, then the uniqueness check); the hash
index costs ~1 us less and the exclusion constraint over it is exact (equal keys are
compared, not their hashes). Refused inserts fail with 23P01 instead of 23505, and
`ON CONFLICT DO NOTHING` treats them alike. One difference: two transactions inserting the
same key at the same instant can deadlock where a btree would make one wait; PostgreSQL
aborts one of them (40P01, a transient error the consumer retries), which then finds the
key claimed (unprincipled deadlocks, in PostgreSQL's words). bench/README.md has the
measurements.
"""


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table in the service's schema; one row per (consumer, event id)."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("event_id", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        ExcludeConstraint((literal_column(_KEY), "="), name=CONSTRAINT, using="hash"),
    )


def _check_consumer(consumer: str) -> None:
    if KEY_SEPARATOR in consumer:
        raise ValueError(f"a consumer name cannot hold U+001F: {consumer!r}")


# The ids travel as ONE text (`dunlin_platform.text_columns`: about half the client CPU of
# the claim); a batch whose ids would not split back into themselves sends a text[]. The two
# forms claim the same rows (test_inbox_claims).
_JOINED_IDS = text_array_sql("ids", joined=True)
_ARRAY_IDS = text_array_sql("ids", joined=False)

_CLAIM = (
    "WITH claimed AS (INSERT INTO {inbox} (consumer, event_id) "
    "SELECT :consumer, unnest({ids}) "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT CASE WHEN count(*) < cardinality({ids}) "
    "THEN coalesce(array_agg(event_id), CAST(ARRAY[] AS text[])) END FROM claimed"
)

_CLAIM_ALL = "INSERT INTO {inbox} (consumer, event_id) SELECT :consumer, unnest({ids})"

# (statement, schema, joined) -> its TextClause: a fixed set of shapes per service, built
# once instead of re-parsing the SQL for bind parameters on every batch.
_statements: dict[tuple[str, str | None, bool], TextClause] = {}


def _statement(sql: str, table: Table, joined: bool) -> TextClause:
    key = (sql, table.schema, joined)
    statement = _statements.get(key)
    if statement is None:
        inbox = f'"{table.schema}".inbox'  # the service's own schema; values are bound
        ids = _JOINED_IDS if joined else _ARRAY_IDS
        statement = _statements[key] = text(sql.format(inbox=inbox, ids=ids))
    return statement


class AlreadyClaimed(Exception):
    """claim_all met an id already in the inbox; its transaction is aborted (redo it with
    claim_new)."""


async def claim_all(
    session: AsyncSession, *, table: Table, consumer: str, event_ids: Sequence[str]
) -> None:
    """Record ids the caller expects to be new (distinct), for half claim_new's database work.

    A plain INSERT: the ON CONFLICT DO NOTHING of claim_new makes PostgreSQL check the index,
    insert and then confirm every row (speculative insertion), about twice the work per row.
    When an id is there already (a redelivery after a crash or a rebalance) the INSERT fails
    on the primary key, which aborts the transaction: AlreadyClaimed is raised and the caller
    rolls back and redoes the transaction with claim_new. An id that a concurrent transaction
    has claimed but not committed makes this wait for it, as ON CONFLICT does.
    """
    if not event_ids:
        return
    _check_consumer(consumer)
    joined, ids = text_parameter(event_ids)
    try:
        await session.execute(
            _statement(_CLAIM_ALL, table, joined), {"consumer": consumer, "ids": ids}
        )
    except IntegrityError as exc:
        if sqlstate_of(exc) in _ALREADY_THERE:
            raise AlreadyClaimed from exc
        raise


async def claim_new(
    session: AsyncSession, *, table: Table, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """Record the ids and return those never seen before (one round trip for the batch).

    The statement answers with one row: how many ids were new and, only when some were
    already there, which ones. The usual all-new batch thus sends back no ids at all.
    """
    if not event_ids:
        return set()
    _check_consumer(consumer)
    joined, ids = text_parameter(event_ids)
    result = await session.execute(
        _statement(_CLAIM, table, joined), {"consumer": consumer, "ids": ids}
    )
    some_known = result.scalar_one()
    return set(event_ids) if some_known is None else set(some_known)


_PURGE_PAGES = 2_000
"""Heap pages one purge transaction reads: 16 MB, ~150,000 inbox rows."""


async def purge_claims(engine: AsyncEngine, *, table: Table, older_than_days: int) -> int:
    """Delete the ids claimed more than `older_than_days` ago (by the database's clock, which
    stamped them); returns how many were deleted.

    One pass over the table, `_PURGE_PAGES` heap pages per transaction (a TID range scan,
    PostgreSQL 14 or newer), so that no long transaction holds rows beside the consumers'
    claims and no page is read twice. No index on `processed_at`: a btree would cost every
    claim ~0.5 us, and a BRIN index loses its use once freed pages take new rows. Rows
    added after the pass began are newer than the cutoff anyway.

    An event redelivered after its id was purged is applied again: the retention is the
    consumers' window for recognising redeliveries (`ServiceSettings.inbox_retention_days`).
    """
    inbox = f'"{table.schema}".inbox'
    size_and_cutoff = text(
        "SELECT pg_relation_size(CAST(:inbox AS regclass)) / current_setting('block_size')::int,"
        " now() - make_interval(days => :days)"
    )
    delete = text(
        f"DELETE FROM {inbox} WHERE ctid >= CAST(:first AS tid) AND ctid < CAST(:end AS tid)"  # noqa: S608 - the service's own schema
        " AND processed_at < :cutoff"
    )
    async with engine.connect() as conn:
        parameters = {"inbox": inbox, "days": older_than_days}
        pages, cutoff = (await conn.execute(size_and_cutoff, parameters)).one()
    deleted = 0
    for first in range(0, int(pages), _PURGE_PAGES):
        bounds = {"first": (first, 0), "end": (first + _PURGE_PAGES, 0)}  # asyncpg: tid
        async with engine.begin() as conn:
            deleted += (await conn.execute(delete, {**bounds, "cutoff": cutoff})).rowcount
    return deleted
