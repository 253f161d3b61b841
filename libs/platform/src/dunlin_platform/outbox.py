"""Transactional outbox: events are rows written in the same transaction as the state change.

The columns follow Debezium's outbox event router (id, aggregatetype, aggregateid, type,
payload, plus tracingspancontext), so change-data-capture can replace the relay.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    cast,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from dunlin_events import Envelope, Event
from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.telemetry import current_traceparent


class JsonText(TypeDecorator[str]):
    """JSONB stored from, and read back as, already-serialised JSON text (no double encoding)."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(bindvalue, JSONB)

    def column_expression(self, column: Any) -> ColumnElement[Any]:
        return cast(column, Text)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in the service's schema."""
    table = Table(
        "outbox",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
        Column("aggregatetype", String(100), nullable=False),
        Column("aggregateid", String(100), nullable=False),
        Column("type", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", JsonText(), nullable=False),
        Column("tracingspancontext", String(256)),
        Column("published_at", DateTime(timezone=True)),
    )
    # The relay reads only unpublished rows, in order: a partial index keeps that cheap forever.
    Index(
        "ix_outbox_unpublished",
        table.c.seq,
        postgresql_where=table.c.published_at.is_(None),
    )
    Index("ix_outbox_published_at", table.c.published_at)
    return table


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay of one schema."""
    return f"{schema}_outbox"


def outbox_trigger_ddl(schema: str) -> tuple[str, ...]:
    """SQL that makes every insert into the outbox wake the relay at commit."""
    channel = notify_channel(schema)
    return (
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{channel}', '');
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".outbox_notify()
        """,
    )


class Outbox:
    """Writes events into the outbox inside the caller's transaction."""

    def __init__(self, *, table: Table, source: str, clock: Clock | None = None) -> None:
        self._table = table
        self._source = source
        self._clock = clock or SystemClock()

    async def add(
        self,
        session: AsyncSession,
        *events: Event,
        occurred_at: datetime | None = None,
    ) -> list[Envelope[Event]]:
        """Stage events for publishing; they leave only if the transaction commits."""
        if not events:
            return []
        when = occurred_at or self._clock.now()
        traceparent = current_traceparent()
        envelopes = [
            Envelope(
                id=str(uuid.uuid4()),
                type=event.ce_type(),
                source=self._source,
                time=when,
                subject=event.key(),
                data=event,
                traceparent=traceparent,
            )
            for event in events
        ]
        await session.execute(insert(self._table), [self._row(e) for e in envelopes])
        return envelopes

    def _row(self, envelope: Envelope[Event]) -> dict[str, Any]:
        event = envelope.data
        return {
            "id": envelope.id,
            "aggregatetype": event.event_name,
            "aggregateid": envelope.subject,
            "type": envelope.type,
            "topic": event.topic(),
            "source": envelope.source,
            "occurred_at": envelope.time,
            "payload": event.model_dump_json(),
            "tracingspancontext": envelope.traceparent,
        }


async def outbox_backlog(conn: AsyncConnection, *, table: Table) -> tuple[int, datetime | None]:
    """How many events wait to be published, and since when."""
    query = select(func.count(), func.min(table.c.occurred_at)).where(
        table.c.published_at.is_(None)
    )
    count, oldest = (await conn.execute(query)).one()
    return int(count), oldest
