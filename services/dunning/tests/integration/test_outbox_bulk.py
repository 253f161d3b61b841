"""The sweep's one-statement outbox write stores exactly what Outbox.add stores, in order."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from dunlin_events import DunningCaseClosed, Event
from dunlin_events.testing import account_registered
from dunning.db import PLATFORM_TABLES
from dunning.outbox_bulk import add_events


async def test_bulk_rows_equal_outbox_add_rows_in_event_order(app: FastAPI) -> None:
    runtime = app.state.runtime
    outbox = PLATFORM_TABLES.outbox
    at = dt.datetime(2025, 6, 2, 6, 0, tzinfo=dt.UTC)
    account = str(uuid.uuid4())
    events: list[Event] = [
        DunningCaseClosed(
            account_id=account,
            case_id=f"case-{n}",
            reason="paid",
            last_step_key=None,
            closed_at=at,
        )
        for n in range(3)
    ]
    events.insert(1, account_registered(account_id=account, name="Ada GmbH"))
    traceparents = [f"00-{'a' * 32}-{n:016x}-01" for n in range(len(events))]
    other = str(uuid.uuid4())
    rows: dict[str, list[dict[str, Any]]] = {}
    async with runtime.sessionmaker() as session, session.begin():
        await runtime.outbox.add(session, *events, occurred_at=at, traceparents=traceparents)
        await add_events(runtime.outbox, session, events, occurred_at=at, traceparents=traceparents)
        result = await session.execute(
            select(outbox).where(outbox.c.aggregateid == account).order_by(outbox.c.seq)
        )
        found = [dict(r._mapping) for r in result]
        await session.rollback()
    assert other not in str(found)
    rows["add"], rows["bulk"] = found[: len(events)], found[len(events) :]
    for row in found:
        assert uuid.UUID(row.pop("id")).version == 4
        row.pop("seq")
    assert rows["bulk"] == rows["add"]
    assert [r["type"] for r in rows["bulk"]] == [e.ce_type() for e in events]
    assert [r["tracingspancontext"] for r in rows["bulk"]] == traceparents
