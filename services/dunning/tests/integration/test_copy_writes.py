"""COPY writes: the sweep's outbox rows are `Outbox.add_many`'s, and all stay in the transaction."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from dunlin_events import DunningCaseClosed, DunningHoldChanged, Event
from dunlin_platform.db import transaction_driver
from dunlin_platform.outbox import Outbox
from dunlin_platform.outbox_copy import CopyOutbox
from dunlin_platform.runtime import ServiceRuntime
from dunning import repository
from dunning.db import PLATFORM_TABLES, audit
from dunning.domain.case import AuditEntry

AT = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _events(account_id: str) -> list[Event]:
    reasons = ["plain", 'quo"te \\ back\\slash', "new\nline\ttab", "ünï©ødé \x1f\x1e"]
    holds: list[Event] = [
        DunningHoldChanged(
            account_id=account_id,
            case_id="case-1",
            hold_id=f"hold-{n}",
            action="placed",
            reason=reason,
            actor="someone",
            at=AT,
        )
        for n, reason in enumerate(reasons)
    ]
    closed = DunningCaseClosed(
        account_id=account_id, case_id="case-1", reason="paid", last_step_key=None, closed_at=AT
    )
    return [holds[0], closed, *holds[1:]]


async def _written(
    runtime: ServiceRuntime, outbox: Outbox, events: list[Event], tps: list[str | None]
) -> list[dict[str, Any]]:
    async with runtime.sessionmaker() as session, session.begin():
        await outbox.add_many(session, events, occurred_at=AT, traceparents=tps)
    table = PLATFORM_TABLES.outbox
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(table).where(table.c.aggregateid == events[0].key()).order_by(table.c.seq)
        )
        return [dict(row._mapping) for row in rows]


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("id", "seq")} for row in rows]


@pytest.mark.asyncio(loop_scope="session")
async def test_copy_writes_the_rows_add_many_writes(own_runtime: ServiceRuntime) -> None:
    table, source = PLATFORM_TABLES.outbox, own_runtime.settings.source
    by_insert, by_copy = (f"acc-{uuid.uuid4().hex[:8]}" for _ in range(2))
    tps: list[str | None] = [TRACEPARENT, None, TRACEPARENT, None, None]
    inserted = await _written(
        own_runtime, Outbox(table=table, source=source), _events(by_insert), tps
    )
    copied = await _written(
        own_runtime, CopyOutbox(table=table, source=source), _events(by_copy), tps
    )
    assert len(copied) == len(inserted) == 5
    assert _comparable(copied) == [
        {**row, "aggregateid": by_copy, "payload": row["payload"].replace(by_insert, by_copy)}
        for row in _comparable(inserted)
    ]
    ids = [row["id"] for row in copied]
    assert all(UUID7.match(i) for i in ids)
    assert ids == sorted(ids)  # time-ordered, in event (seq) order
    assert [row["payload"] for row in copied] == [e.model_dump_json() for e in _events(by_copy)]


@pytest.mark.asyncio(loop_scope="session")
async def test_copy_outbox_refuses_a_traceparent_count_that_does_not_match(
    own_runtime: ServiceRuntime,
) -> None:
    outbox = CopyOutbox(table=PLATFORM_TABLES.outbox, source=own_runtime.settings.source)
    async with own_runtime.sessionmaker() as session, session.begin():
        with pytest.raises(ValueError, match="one traceparent per event"):
            await outbox.add_many(session, _events("acc-x"), traceparents=[None])
        await outbox.add_many(session, [])  # nothing to write: no statement at all


@pytest.mark.asyncio(loop_scope="session")
async def test_copy_outbox_rows_roll_back_with_the_transaction(
    own_runtime: ServiceRuntime,
) -> None:
    account_id = f"acc-{uuid.uuid4().hex[:8]}"
    outbox = CopyOutbox(table=PLATFORM_TABLES.outbox, source=own_runtime.settings.source)
    async with own_runtime.sessionmaker() as session:
        await outbox.add_many(session, _events(account_id), occurred_at=AT)  # begins it
        await session.rollback()
    table = PLATFORM_TABLES.outbox
    async with own_runtime.engine.connect() as conn:
        rows = await conn.execute(select(table.c.id).where(table.c.aggregateid == account_id))
        assert rows.all() == []


@pytest.mark.asyncio(loop_scope="session")
async def test_copied_audit_records_roll_back_with_the_transaction(
    own_runtime: ServiceRuntime,
) -> None:
    account_id = f"acc-{uuid.uuid4().hex[:8]}"
    entry = AuditEntry("noted", "someone", "why", AT, detail={"n": 1})
    async with own_runtime.sessionmaker() as session:
        await repository.add_audits(session=session, entries=[(account_id, entry)])  # begins it
        await session.rollback()
    async with own_runtime.engine.connect() as conn:
        rows = await conn.execute(select(audit.c.id).where(audit.c.account_id == account_id))
        assert rows.all() == []


@pytest.mark.asyncio(loop_scope="session")
async def test_audit_copy_writes_what_asyncpgs_record_copy_writes(
    own_runtime: ServiceRuntime,
) -> None:
    """`add_audits` writes its own COPY data: held to asyncpg's `copy_records_to_table`."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    entries = [
        AuditEntry("step_executed", "system", None, AT, "case-1", "reminder", {"index": 1}),
        AuditEntry("noted", "sömeone", 'quo"te \\ \n\t \x1f', AT.astimezone(plus_two)),
        AuditEntry("noted", "x", "", AT.replace(tzinfo=None), detail={"ünï": ["©", 1.5, None]}),
        AuditEntry("noted", "x", "again", AT + dt.timedelta(microseconds=7), "case-1"),
    ]
    by_copy, by_asyncpg = (f"acc-{uuid.uuid4().hex[:8]}" for _ in range(2))
    async with own_runtime.sessionmaker() as session, session.begin():
        await repository.add_audits(session=session, entries=[(by_copy, e) for e in entries])
        driver = await transaction_driver(session)
        await driver.copy_records_to_table(
            audit.name,
            schema_name=audit.schema,
            columns=repository._AUDIT_COLUMNS,
            records=[
                (
                    by_asyncpg,
                    e.case_id,
                    e.action,
                    e.step_key,
                    e.actor,
                    e.reason,
                    e.at,
                    repository._detail_json(e.detail),
                )
                for e in entries
            ],
        )

    async def rows(account_id: str) -> list[dict[str, Any]]:
        async with own_runtime.engine.connect() as conn:
            found = await conn.execute(
                select(audit).where(audit.c.account_id == account_id).order_by(audit.c.id)
            )
            return [
                {k: v for k, v in r._mapping.items() if k not in ("id", "account_id")}
                for r in found
            ]

    copied = await rows(by_copy)
    assert len(copied) == len(entries)
    assert copied == await rows(by_asyncpg)
