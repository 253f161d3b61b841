"""The due sweep in forked helper processes: every case once, the same events as in-process."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from dunlin_events.testing import account_registered, invoice_issued
from dunlin_platform.runtime import ServiceRuntime
from dunning import handlers, repository, sweep
from dunning.db import PLATFORM_TABLES, audit, cases
from dunning.domain.assignment import PolicyBook
from dunning.domain.case import advance
from dunning.domain.facts import apply
from dunning.domain.state import AccountState

NOW = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)
BATCH = 10


def _due_state(n: int) -> AccountState:
    """An account whose invoice fell due two days ago (courtesy skipped, reminder sent)."""
    account_id = f"acc-{n:04d}-{uuid.uuid4().hex[:6]}"
    state = AccountState(account_id=account_id)
    at = NOW - dt.timedelta(days=40)
    apply(
        state, account_registered(account_id=account_id, time_zone="UTC"), event_id=f"r-{n}", at=at
    )
    due = NOW.date() - dt.timedelta(days=2 + n % 3)
    invoice = invoice_issued(
        account_id=account_id,
        invoice_id=f"inv-{n}",
        issue_date=due - dt.timedelta(days=30),
        due_date=due,
    )
    apply(state, invoice, event_id=f"i-{n}", at=at)
    return state


async def _store(runtime: ServiceRuntime, states: list[AccountState]) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await repository.save_states(
            session=session, saved=[(s, NOW) for s in states], now=NOW - dt.timedelta(days=1)
        )


Events = dict[str, list[tuple[str, dict[str, Any]]]]


def _pure(states: list[AccountState]) -> tuple[Events, int]:
    """What the pure engine decides for each account (events in order), and the audit rows."""
    book = PolicyBook.built_in()
    expected: Events = {}
    audit_rows = 0
    for original in states:
        state = AccountState.model_validate_json(original.model_dump_json())
        fx = advance(state, book.for_account(state), NOW, execute=True)
        expected[state.account_id] = [
            (e.ce_type(), json.loads(e.model_dump_json())) for e in fx.events
        ]
        audit_rows += len(fx.audit)
    return expected, audit_rows


async def _written(runtime: ServiceRuntime) -> Events:
    written: Events = {}
    for account_id, ce_type, payload in await _outbox(runtime):
        written.setdefault(account_id, []).append((ce_type, payload))
    return written


async def _outbox(runtime: ServiceRuntime) -> list[tuple[str, str, dict[str, Any]]]:
    table = PLATFORM_TABLES.outbox
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(table.c.aggregateid, table.c.type, table.c.payload).order_by(table.c.seq)
        )
        return [(r.aggregateid, r.type, json.loads(r.payload)) for r in rows]


async def _scalar(runtime: ServiceRuntime, query: Any) -> Any:
    async with runtime.engine.connect() as conn:
        return (await conn.execute(query)).scalar_one()


@pytest.mark.asyncio(loop_scope="session")
async def test_helpers_sweep_every_due_case_once_with_the_events_of_the_pure_engine(
    own_runtime: ServiceRuntime,
) -> None:
    states = [_due_state(n) for n in range(7 * BATCH + 3)]
    await _store(own_runtime, states)
    expected, audit_rows = _pure(states)

    done = await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=2, processes=2)

    assert done == len(states)
    written = await _written(own_runtime)
    assert written == expected  # every account once, its events in order
    assert await _scalar(own_runtime, select(func.count()).select_from(audit)) == audit_rows
    still_due = select(func.count()).where(cases.c.next_action_at <= NOW)
    assert await _scalar(own_runtime, still_due) == 0
    notifications = [
        p["notification_id"]
        for events in written.values()
        for t, p in events
        if t.endswith("NotificationRequested.v1")
    ]
    assert len(notifications) == len(set(notifications)) == len(states)
    # A second sweep at the same instant finds nothing left to do.
    assert await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=2, processes=2) == 0
    assert len(await _outbox(own_runtime)) == sum(map(len, expected.values()))


@pytest.mark.asyncio(loop_scope="session")
async def test_no_helper_is_forked_for_less_than_a_batch(
    own_runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(sweep._Helper, "start", lambda *a: started.append(a))
    await _store(own_runtime, [_due_state(n) for n in range(BATCH - 1)])
    assert (
        await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=2, processes=2) == BATCH - 1
    )
    assert started == []


@pytest.mark.asyncio(loop_scope="session")
async def test_a_failing_helper_fails_the_sweep_and_leaves_its_batch_due(
    own_runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = [_due_state(n) for n in range(4 * BATCH)]
    await _store(own_runtime, states)
    real = handlers.sweep_batch
    calls = 0

    async def second_batch_fails(**kwargs: Any) -> int:
        nonlocal calls
        calls += 1  # counted per process: each helper fails on its second batch
        if calls == 2:
            await real(**kwargs)
            raise RuntimeError("boom")
        return await real(**kwargs)

    monkeypatch.setattr(sweep, "sweep_batch", second_batch_fails)
    with pytest.raises(RuntimeError, match="helper failed: RuntimeError: boom"):
        await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=1, processes=2)
    monkeypatch.setattr(sweep, "sweep_batch", real)
    # The failed batches rolled back: exactly those cases are still due, nothing of them
    # reached the outbox, and the next sweep executes them.
    async with own_runtime.engine.connect() as conn:
        due = set(
            (
                await conn.execute(select(cases.c.account_id).where(cases.c.next_action_at <= NOW))
            ).scalars()
        )
    assert len(due) == 2 * BATCH
    expected, _ = _pure(states)
    assert await _written(own_runtime) == {a: e for a, e in expected.items() if a not in due}
    assert await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=1, processes=1) == len(due)
    assert await _written(own_runtime) == expected


@pytest.mark.asyncio(loop_scope="session")
async def test_a_helper_that_dies_fails_the_sweep_and_loses_only_its_open_batch(
    own_runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = [_due_state(n) for n in range(3 * BATCH)]
    await _store(own_runtime, states)
    real = handlers.sweep_batch

    async def dies_in_its_first_batch(**kwargs: Any) -> int:
        await real(**kwargs)
        os._exit(3)  # killed mid-transaction: no result, no commit

    monkeypatch.setattr(sweep, "sweep_batch", dies_in_its_first_batch)
    with pytest.raises(RuntimeError, match="exited without a result"):
        await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=1, processes=2)
    monkeypatch.setattr(sweep, "sweep_batch", real)
    assert await _written(own_runtime) == {}
    # Its server process ends when it sees the connection closed: wait for its row locks.
    async with own_runtime.engine.begin() as conn:
        await conn.execute(select(cases.c.account_id).with_for_update())
    assert await sweep.sweep_once(own_runtime, batch_size=BATCH, workers=1, processes=2) == len(
        states
    )
    assert await _written(own_runtime) == _pure(states)[0]
