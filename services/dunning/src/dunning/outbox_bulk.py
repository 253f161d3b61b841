"""Writing a sweep batch's events to the outbox in one statement.

`Outbox.add` inserts row by row through SQLAlchemy's multi-values path; a sweep batch holds
thousands of events, and building those parameters cost more than executing them. This
writes exactly the rows `Outbox.add` would (same columns, payload normalised through jsonb,
CloudEvents attributes, one traceparent per event, same transaction) with the columns as
arrays (`unnest`), in event order (`seq` follows it, so an account's events keep their
order), and wakes the relay after commit the way `Outbox.add` does. It belongs in
dunlin_platform.outbox (an `add_many`); until then it lives here, and a test checks it
against `Outbox.add` row for row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from dunlin_platform.outbox import Outbox

_INSERT = text(
    """
    INSERT INTO dunning.outbox (id, aggregatetype, aggregateid, type, topic, source,
        occurred_at, payload, tracingspancontext)
    SELECT u.id, u.aggregatetype, u.aggregateid, u.type, u.topic, CAST(:source AS text),
        CAST(:occurred_at AS timestamptz),
        CAST(CAST(u.payload AS jsonb) AS text), u.tracingspancontext
    FROM unnest(
        CAST(:id AS text[]), CAST(:aggregatetype AS text[]), CAST(:aggregateid AS text[]),
        CAST(:type AS text[]), CAST(:topic AS text[]), CAST(:payload AS text[]),
        CAST(:tracingspancontext AS text[])
    ) WITH ORDINALITY AS u(id, aggregatetype, aggregateid, type, topic, payload,
        tracingspancontext, n)
    ORDER BY u.n
    """
)

# Outbox.add's row fields below mirror dunlin_platform.outbox.Outbox._row.


async def add_events(
    outbox: Outbox,
    session: AsyncSession,
    events: Sequence[Event],
    *,
    occurred_at: dt.datetime,
    traceparents: Sequence[str | None],
) -> None:
    """Stage `events` for publishing in the caller's transaction, in order."""
    if not events:
        return
    if len(traceparents) != len(events):
        raise ValueError("one traceparent per event")
    await session.execute(
        _INSERT,
        {
            "id": [str(uuid.uuid4()) for _ in events],
            "aggregatetype": [e.event_name for e in events],
            "aggregateid": [e.key() for e in events],
            "type": [e.ce_type() for e in events],
            "topic": [e.topic() for e in events],
            "payload": [e.model_dump_json() for e in events],
            "tracingspancontext": list(traceparents),
            "source": outbox._source,
            "occurred_at": occurred_at,
        },
    )
    outbox._wake_after_commit(session)
