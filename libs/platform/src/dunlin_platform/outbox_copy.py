"""An outbox writer for bulk producers: `Outbox`'s rows, sent by binary COPY.

For bulk producers such as the dunning due sweep (three or more events per case).
`Outbox.add_many` sends rows as `INSERT ... SELECT FROM unnest(...)`; PostgreSQL then
projects every row through the executor and inserts it alone. COPY FROM hands them to the
heap in pages (`heap_multi_insert`) and the binary format needs no parsing: about 40 % less database
CPU per event (11 against 19 us per case of three events, same Python CPU). The rows are
the ones `add_many` writes, column for column, ids included (`id_block`'s time-ordered
UUIDv7s), in event order so `seq` keeps an account's events in order (dunning's
`test_copy_writes.py`). COPY fires the table's statement triggers as INSERT does, so a
writer outside the service still NOTIFYs the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic_core import SchemaSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from dunlin_platform.db import transaction_driver
from dunlin_platform.outbox import Outbox, id_block
from dunlin_platform.telemetry import current_traceparent

COLUMNS = (
    "id",
    "aggregatetype",
    "aggregateid",
    "type",
    "topic",
    "source",
    "occurred_at",
    "payload",
    "tracingspancontext",
)


class CopyOutbox(Outbox):
    """`Outbox` whose `add_many` writes its rows by COPY; everything else is the platform's."""

    async def add_many(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        *,
        occurred_at: datetime | None = None,
        traceparents: Sequence[str | None] | None = None,
    ) -> None:
        """`Outbox.add_many`'s rows in one COPY, in the caller's transaction."""
        if not events:
            return
        if traceparents is None:
            traceparents = [current_traceparent()] * len(events)
        elif len(traceparents) != len(events):
            raise ValueError("one traceparent per event")
        records = self._records(events, traceparents, occurred_at or self._clock.now())
        connection = await transaction_driver(session)
        await connection.copy_records_to_table(
            self._table.name, schema_name=self._table.schema, columns=COLUMNS, records=records
        )
        self._wake_after_commit(session)

    def _records(
        self, events: Sequence[Event], traceparents: Sequence[str | None], when: datetime
    ) -> list[tuple[object, ...]]:
        prefix, base = id_block()
        source = self._source
        # Per class: names, and its serializer called directly (`model_dump_json` is a Python
        # wrapper passing sixteen default keywords on: ~1 us of each event's ~2-8 us).
        kinds: dict[type[Event], tuple[str, str, str, SchemaSerializer]] = {}
        records: list[tuple[object, ...]] = []
        for n, (event, traceparent) in enumerate(zip(events, traceparents, strict=True), 1):
            cls = type(event)
            kind = kinds.get(cls)
            if kind is None:
                kind = kinds[cls] = (
                    cls.event_name,
                    cls.ce_type(),
                    cls.topic(),
                    cls.__pydantic_serializer__,
                )
            records.append(
                (
                    f"{prefix}{base + n:012x}",
                    kind[0],
                    event.key(),
                    kind[1],
                    kind[2],
                    source,
                    when,
                    kind[3].to_json(event).decode(),  # == event.model_dump_json()
                    traceparent,
                )
            )
        return records
