"""The inbox: ids of processed events, written in the same transaction as their effects."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, func, text
from sqlalchemy.ext.asyncio import AsyncSession


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
