"""Transactional outbox: events are rows written in the same transaction as the state change.

The columns follow Debezium's outbox event router (id, aggregatetype, aggregateid, type,
payload, plus tracingspancontext), so change-data-capture can replace the relay.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Sequence
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
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from dunlin_events import Envelope, Event
from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.kafka import MAX_PAYLOAD_BYTES
from dunlin_platform.telemetry import current_traceparent
from dunlin_platform.text_columns import joined_text_columns, text_array_sql


class JsonText(TypeDecorator[str]):
    """A TEXT column holding JSON the application serialised (payloads, states): stored and
    read back exactly as written.

    PostgreSQL never looks inside these documents, and parsing each one as jsonb on the way in
    cost ten times the insert itself (~25 us per 1 kB payload against ~2.5 us: EXPLAIN ANALYZE
    of 20,000 rows here); their writers serialise them with pydantic or `json`, so they are
    valid JSON by construction.
    """

    impl = Text
    cache_ok = True


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in the service's schema.

    `seq` (the publishing order) is the primary key and `id` (the event's CloudEvents id) has
    no index: nothing reads a row by id, and each event then costs two 8-byte btree entries
    (`pk_outbox`, `ix_outbox_unpublished`) where a text primary key on `id` and a unique
    `seq` cost three. The ids stay unique by construction (uuid4s, or `id_block`'s UUIDv7s).
    """
    table = Table(
        "outbox",
        metadata,
        Column("id", String(64), nullable=False),
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
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
    # The relay purges by `published_at < cutoff`: indexing the published rows only serves
    # that just as well, and an event inserted unpublished adds no entry to this btree (the
    # relay's update adds it when it publishes).
    Index(
        "ix_outbox_published_at",
        table.c.published_at,
        postgresql_where=table.c.published_at.isnot(None),
    )
    return table


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay of one schema."""
    return f"{schema}_outbox"


# Set by the services' own connections: they wake their relay without NOTIFY, because
# NOTIFY takes a cluster-wide lock through commit and would serialise every transaction.
APP_CONNECTION_SETTING = "dunlin.outbox_wakeup"


def outbox_trigger_ddl(schema: str) -> tuple[str, ...]:
    """SQL that makes inserts by anything but the service itself wake the relay at commit."""
    channel = notify_channel(schema)
    return (
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('{APP_CONNECTION_SETTING}', true) IS DISTINCT FROM 'app' THEN
                PERFORM pg_notify('{channel}', '');
            END IF;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".outbox_notify()
        """,
    )


_WAKE_PENDING = "dunlin_outbox_wake_pending"

# The wake() of every relay running in this process, by schema: an Outbox built without
# `on_commit` (e.g. one made before its ServiceRuntime existed) still wakes its relay
# instead of leaving the rows to the relay's safety poll (seconds).
_running_relays: dict[str, set[Callable[[], None]]] = {}


def register_running_relay(schema: str, wake: Callable[[], None]) -> Callable[[], None]:
    """Called by a relay when it starts running; returns the call that unregisters it."""
    wakers = _running_relays.setdefault(schema, set())
    wakers.add(wake)
    return lambda: wakers.discard(wake)


def _wake_running_relays(schema: str) -> Callable[[], None]:
    def wake() -> None:
        for relay_wake in list(_running_relays.get(schema, ())):
            relay_wake()

    return wake


class EventTooLarge(ValueError):
    """An event whose body is larger than the relay can publish (`MAX_PAYLOAD_BYTES`).

    Raised when the event is written, inside the caller's transaction, so the work that
    produced it fails where it can be seen (an HTTP request with 413, a consumed event in
    the dead-letter topic) instead of an outbox row that no broker would take.
    """

    def __init__(self, event_type: str, size: int) -> None:
        super().__init__(
            f"a {event_type} event of {size:,} bytes is larger than the {MAX_PAYLOAD_BYTES:,}"
            " bytes an event may have"
        )
        self.event_type = event_type
        self.size = size


_SURELY_SMALL = MAX_PAYLOAD_BYTES // 4  # characters: at most 4 UTF-8 bytes each


def oversized_payload(payloads: Sequence[str]) -> tuple[int, int] | None:
    """The index and UTF-8 size of the first payload larger than `MAX_PAYLOAD_BYTES`, if any.

    One length per payload on the usual path: a text of at most a quarter as many
    characters cannot be larger in bytes.
    """
    if not payloads or max(map(len, payloads)) <= _SURELY_SMALL:
        return None
    for n, payload in enumerate(payloads):
        if len(payload) > _SURELY_SMALL and (size := len(payload.encode())) > MAX_PAYLOAD_BYTES:
            return n, size
    return None


# The bulk insert's text columns, in the order of its unnest (sent joined, see text_columns).
_TEXT_COLUMNS = ("aggregatetype", "aggregateid", "type", "topic", "payload", "tracingspancontext")


def id_block() -> tuple[str, int]:
    """The ids of one bulk insert: row n (from 1) gets `prefix + f"{base + n:012x}"`.

    These are UUIDv7 (RFC 9562, "monotonic random"): 48 bits of Unix milliseconds, version,
    12 random bits, variant, 14 random bits and a 48-bit field counting up per row from a
    random start below 2**47 (so it never overflows): a counter per row, where a uuid4 per
    row cost ~2 us of Python. Two blocks collide only if drawn in the same millisecond with
    the same 26 random bits and starts less than their length apart (~1e-18 per such pair
    of 6,000-row blocks); no index on `id` would catch it (see `outbox_table`).
    """
    millis = time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b_high, base = rand & 0xFFF, (rand >> 12) & 0x3FFF, rand >> 33
    hex_ms = f"{millis:012x}"
    return f"{hex_ms[:8]}-{hex_ms[8:]}-7{rand_a:03x}-{0x8000 | rand_b_high:04x}-", base


class Outbox:
    """Writes events into the outbox inside the caller's transaction."""

    def __init__(
        self,
        *,
        table: Table,
        source: str,
        clock: Clock | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._table = table
        self._source = source
        self._clock = clock or SystemClock()
        self._on_commit = on_commit

    async def add(
        self,
        session: AsyncSession,
        *events: Event,
        occurred_at: datetime | None = None,
        traceparents: Sequence[str | None] | None = None,
    ) -> list[Envelope[Event]]:
        """Stage events for publishing; they leave only if the transaction commits.

        `traceparents` (one per event) keeps each event in its own trace when one transaction
        writes the work of several requests or messages; by default the active span's.
        """
        if not events:
            return []
        when = occurred_at or self._clock.now()
        if traceparents is None:
            traceparents = [current_traceparent()] * len(events)
        elif len(traceparents) != len(events):
            raise ValueError("one traceparent per event")
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
            for event, traceparent in zip(events, traceparents, strict=True)
        ]
        # inline(): nothing reads back the `seq` given (no RETURNING of the primary key).
        await session.execute(insert(self._table).inline(), [self._row(e) for e in envelopes])
        self._wake_after_commit(session)
        return envelopes

    async def add_many(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        *,
        occurred_at: datetime | None = None,
        traceparents: Sequence[str | None] | None = None,
    ) -> None:
        """`add` for large batches: the same rows, written as columns in one statement.

        Building thousands of rows' parameters costs more than executing them; here each
        column travels whole (see `_insert_columns`), in event order (`seq` follows it, so an
        account's events keep their order), the payload stored as serialised, as `add` does.
        Only the ids differ in kind: time-ordered UUIDv7s (`id_block`) where `add` makes uuid4s.
        """
        if not events:
            return
        classes = [type(e) for e in events]
        kinds = {cls: (cls.event_name, cls.ce_type(), cls.topic()) for cls in set(classes)}
        rows = [kinds[cls] for cls in classes]
        payloads = [e.model_dump_json() for e in events]
        if (oversized := oversized_payload(payloads)) is not None:
            raise EventTooLarge(rows[oversized[0]][1], oversized[1])
        await self._insert_columns(
            session,
            {
                "aggregatetype": [name for name, _, _ in rows],
                "aggregateid": [e.key() for e in events],
                "type": [ce_type for _, ce_type, _ in rows],
                "topic": [topic for _, _, topic in rows],
                "payload": payloads,
            },
            count=len(events),
            occurred_at=occurred_at,
            traceparents=traceparents,
        )

    async def add_payloads(
        self,
        session: AsyncSession,
        event_type: type[Event],
        keys: Sequence[str],
        payloads: Sequence[str],
        *,
        occurred_at: datetime | None = None,
        traceparents: Sequence[str | None] | None = None,
    ) -> None:
        """`add_many` for events of one type already serialised by the caller (hot paths).

        The caller promises that each payload is exactly `event_type(...).model_dump_json()`
        of a valid event whose key is the matching `keys` entry, and proves it in its tests
        (the events' checks are what this skips).
        """
        if len(keys) != len(payloads):
            raise ValueError("one key per payload")
        if not payloads:
            return
        if (oversized := oversized_payload(payloads)) is not None:
            raise EventTooLarge(event_type.ce_type(), oversized[1])
        count = len(payloads)
        await self._insert_columns(
            session,
            {
                "aggregatetype": [event_type.event_name] * count,
                "aggregateid": list(keys),
                "type": [event_type.ce_type()] * count,
                "topic": [event_type.topic()] * count,
                "payload": list(payloads),
            },
            count=count,
            occurred_at=occurred_at,
            traceparents=traceparents,
        )

    async def _insert_columns(
        self,
        session: AsyncSession,
        columns: dict[str, list[str]],
        *,
        count: int,
        occurred_at: datetime | None,
        traceparents: Sequence[str | None] | None,
    ) -> None:
        if traceparents is None:
            traceparents = [current_traceparent()] * count
        elif len(traceparents) != count:
            raise ValueError("one traceparent per event")
        texts: dict[str, Sequence[str | None]] = {**columns, "tracingspancontext": traceparents}
        joined = joined_text_columns(texts)
        id_prefix, id_base = id_block()
        await session.execute(
            self._statements[joined is not None],
            {
                **({k: list(v) for k, v in texts.items()} if joined is None else joined),
                "id_prefix": id_prefix,
                "id_base": id_base,
                "source": self._source,
                "occurred_at": occurred_at or self._clock.now(),
            },
        )
        self._wake_after_commit(session)

    @functools.cached_property
    def _statements(self) -> dict[bool, TextClause]:
        """The bulk insert, by whether its text columns travel joined (True) or as arrays."""
        return {joined: self._insert_many(joined) for joined in (True, False)}

    def _insert_many(self, joined: bool) -> TextClause:
        table = f'"{self._table.schema}"."{self._table.name}"'
        columns = ", ".join(text_array_sql(name, joined=joined) for name in _TEXT_COLUMNS)
        # Row n's id is the statement's id block (see `id_block`) plus n.
        return text(
            f"""
            INSERT INTO {table} (id, aggregatetype, aggregateid, type, topic, source,
                occurred_at, payload, tracingspancontext)
            SELECT CAST(:id_prefix AS text)
                    || lpad(to_hex(CAST(:id_base AS bigint) + u.n), 12, '0'),
                u.aggregatetype, u.aggregateid, u.type, u.topic, CAST(:source AS text),
                CAST(:occurred_at AS timestamptz), u.payload, u.tracingspancontext
            FROM unnest({columns}) WITH ORDINALITY
                AS u(aggregatetype, aggregateid, type, topic, payload, tracingspancontext, n)
            ORDER BY u.n
            """  # noqa: S608 - the table name comes from our own metadata, not from input
        )

    def _wake_after_commit(self, session: AsyncSession) -> None:
        """Once per transaction: tell the relay there is work, only if the commit succeeds."""
        if session.info.get(_WAKE_PENDING):
            return
        session.info[_WAKE_PENDING] = True
        on_commit = self._on_commit or _wake_running_relays(str(self._table.schema))

        def committed(sync_session: Session) -> None:
            sync_session.info.pop(_WAKE_PENDING, None)
            on_commit()

        def rolled_back(sync_session: Session, *_: Any) -> None:
            sync_session.info.pop(_WAKE_PENDING, None)

        event.listen(session.sync_session, "after_commit", committed, once=True)
        event.listen(session.sync_session, "after_soft_rollback", rolled_back, once=True)

    def _row(self, envelope: Envelope[Event]) -> dict[str, Any]:
        event = envelope.data
        payload = event.model_dump_json()
        if (oversized := oversized_payload((payload,))) is not None:
            raise EventTooLarge(envelope.type, oversized[1])
        return {
            "id": envelope.id,
            "aggregatetype": event.event_name,
            "aggregateid": envelope.subject,
            "type": envelope.type,
            "topic": event.topic(),
            "source": envelope.source,
            "occurred_at": envelope.time,
            "payload": payload,
            "tracingspancontext": envelope.traceparent,
        }


async def outbox_backlog(conn: AsyncConnection, *, table: Table) -> tuple[int, datetime | None]:
    """How many events wait to be published, and since when."""
    query = select(func.count(), func.min(table.c.occurred_at)).where(
        table.c.published_at.is_(None)
    )
    count, oldest = (await conn.execute(query)).one()
    return int(count), oldest
