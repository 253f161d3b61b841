"""Batch writes send text columns joined by separators: every value must come back as written."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from dunlin_platform.runtime import ServiceRuntime
from dunning import repository
from dunning.db import audit, cases
from dunning.domain.case import AuditEntry
from dunning.domain.state import AccountState

AT = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "reasons",
    [
        ["a", "b", "c"],
        [None, "b", None],
        [None],
        [""],
        ["", ""],
        ["x", ""],
        ["a\x1fb", "c"],  # the separator itself: sent as arrays
        ["a\x1eb", None],  # the NULL marker itself: sent as arrays
        ["\x1e"],
        ['quo"te', "back\\slash", "{brace}", "com,ma", "ünï©ødé", "new\nline"],
    ],
)
@pytest.mark.asyncio(loop_scope="session")
async def test_audit_columns_round_trip(
    own_runtime: ServiceRuntime, reasons: list[str | None]
) -> None:
    account_id = f"acc-{uuid.uuid4().hex[:8]}"
    entries = [
        (account_id, AuditEntry("noted", "someone", reason, AT, detail={"n": n}))
        for n, reason in enumerate(reasons)
    ]
    async with own_runtime.sessionmaker() as session, session.begin():
        await repository.add_audits(session=session, entries=entries)
    async with own_runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(audit.c.reason, audit.c.detail, audit.c.case_id)
            .where(audit.c.account_id == account_id)
            .order_by(audit.c.id)
        )
        assert [(r.reason, r.detail, r.case_id) for r in rows] == [
            (reason, {"n": n}, None) for n, reason in enumerate(reasons)
        ]


@pytest.mark.parametrize("suffix", ["", "\x1f", "\x1e", 'é\\"'])
@pytest.mark.asyncio(loop_scope="session")
async def test_case_columns_round_trip(own_runtime: ServiceRuntime, suffix: str) -> None:
    states = [AccountState(account_id=f"acc-{uuid.uuid4().hex[:8]}{suffix}") for _ in range(3)]
    states[1].account.name = f"name{suffix}"
    async with own_runtime.sessionmaker() as session, session.begin():
        await repository.save_states(
            session=session, saved=[(s, AT if i else None) for i, s in enumerate(states)], now=AT
        )
    async with own_runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(cases.c.account_id, cases.c.status, cases.c.next_action_at, cases.c.step_key)
            .where(cases.c.account_id.in_([s.account_id for s in states]))
            .order_by(cases.c.account_id)
        )
        assert sorted(
            (r.account_id, r.status, r.next_action_at, r.step_key) for r in rows
        ) == sorted((s.account_id, "idle", AT if i else None, None) for i, s in enumerate(states))
    async with own_runtime.sessionmaker() as session:
        for state in states:
            assert await repository.get_state(session=session, account_id=state.account_id) == state


def test_columns_are_joined_unless_a_value_holds_a_separator() -> None:
    joined = repository._text_columns(a=["x", None, ""], b=["y", "z", "w"])
    assert joined.joined
    assert joined.params == {"a": "x\x1f\x1e\x1f", "b": "y\x1fz\x1fw"}
    cases: list[list[str | None]] = [["x\x1fy"], ["x", "\x1e"], [""]]
    for values in cases:
        arrays = repository._text_columns(a=["ok"] * len(values), b=values)
        assert not arrays.joined
        assert arrays.params == {"a": ["ok"] * len(values), "b": values}
