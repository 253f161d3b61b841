"""The inbox: ids of processed events, written in the same transaction as their effects."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.errors import sqlstate_of

_UNIQUE_VIOLATION = "23505"


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table in the service's schema; one row per (consumer, event id)."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("event_id", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )


_CLAIM = (
    "WITH claimed AS (INSERT INTO {inbox} (consumer, event_id) "
    "SELECT :consumer, unnest(CAST(:ids AS text[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT CASE WHEN count(*) < cardinality(CAST(:ids AS text[])) "
    "THEN coalesce(array_agg(event_id), CAST(ARRAY[] AS text[])) END FROM claimed"
)


_CLAIM_ALL = (
    "INSERT INTO {inbox} (consumer, event_id) SELECT :consumer, unnest(CAST(:ids AS text[]))"
)


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
    inbox = f'"{table.schema}".inbox'  # the service's own schema; values are bound
    try:
        await session.execute(
            text(_CLAIM_ALL.format(inbox=inbox)), {"consumer": consumer, "ids": list(event_ids)}
        )
    except IntegrityError as exc:
        if sqlstate_of(exc) == _UNIQUE_VIOLATION:
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
    inbox = f'"{table.schema}".inbox'  # the service's own schema; values are bound
    result = await session.execute(
        text(_CLAIM.format(inbox=inbox)), {"consumer": consumer, "ids": list(event_ids)}
    )
    some_known = result.scalar_one()
    return set(event_ids) if some_known is None else set(some_known)
