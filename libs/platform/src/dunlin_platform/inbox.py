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


async def claim_new(
    session: AsyncSession, *, table: Table, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """Record the ids and return those never seen before (one round trip for the batch)."""
    if not event_ids:
        return set()
    result = await session.execute(
        text(
            f'INSERT INTO "{table.schema}".inbox (consumer, event_id) '
            "SELECT :consumer, unnest(CAST(:ids AS text[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        ),
        {"consumer": consumer, "ids": list(event_ids)},
    )
    return {row[0] for row in result}
