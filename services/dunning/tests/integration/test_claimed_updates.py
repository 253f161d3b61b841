"""The sweep updates the cases it claimed by their ctid: the rows the upsert would write."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

from dunlin_platform.runtime import ServiceRuntime
from dunning import repository
from dunning.db import cases
from dunning.domain.state import AccountState

AT = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=3)


async def _cases(
    runtime: ServiceRuntime, n: int, suffix: str = "", next_at: dt.datetime = AT
) -> list[AccountState]:
    states = [AccountState(account_id=f"acc-{uuid.uuid4().hex[:8]}{suffix}") for _ in range(n)]
    async with runtime.sessionmaker() as session, session.begin():
        await repository.save_states(session=session, saved=[(s, next_at) for s in states], now=AT)
    return states


def _changed(state: AccountState, n: int, suffix: str) -> AccountState:
    state.account.name = f"name {n}{suffix}"
    state.progress.status = "open"
    state.progress.case_id = f"case-{n}{suffix}"
    return state


async def _rows(runtime: ServiceRuntime, ids: list[str]) -> list[tuple[Any, ...]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(
                cases.c.account_id,
                cases.c.case_id,
                cases.c.status,
                cases.c.next_action_at,
                cases.c.state,
                cases.c.step_key,
                cases.c.updated_at,
            )
            .where(cases.c.account_id.in_(ids))
            .order_by(cases.c.account_id)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("suffix", ["", "\x1f", "\x1e", 'é\\"'])
@pytest.mark.asyncio(loop_scope="session")
async def test_claimed_cases_are_saved_as_the_upsert_saves_them(
    own_runtime: ServiceRuntime, suffix: str
) -> None:
    # The same changes to three due cases (saved by ctid) and to three not due (upserted).
    due = await _cases(own_runtime, 3, suffix)
    twins = await _cases(own_runtime, 3, suffix, next_at=LATER)
    next_at = [LATER, None, AT]
    now = AT + dt.timedelta(hours=1)
    async with own_runtime.sessionmaker() as session, session.begin():
        claimed = await repository.claim_due(session=session, now=AT, limit=100)
        order = [s.account_id for s in due]
        saved = [
            (_changed(s, order.index(s.account_id), suffix), next_at[order.index(s.account_id)])
            for s in claimed.states
        ]
        await repository.save_claimed(session=session, claimed=claimed, saved=saved, now=now)
    assert sorted(s.account_id for s in claimed.states) == sorted(order)
    async with own_runtime.sessionmaker() as session, session.begin():
        await repository.save_states(
            session=session,
            saved=[(_changed(s, n, suffix), next_at[n]) for n, s in enumerate(twins)],
            now=now,
        )
    updated = await _rows(own_runtime, order)
    upserted = await _rows(own_runtime, [s.account_id for s in twins])
    renamed = {t.account_id: d.account_id for d, t in zip(due, twins, strict=True)}
    assert len(updated) == 3
    assert sorted(updated) == sorted(
        # the ids' random parts swapped (the state's JSON escapes the suffix)
        (renamed[r[0]], *r[1:4], r[4].replace(r[0][4:12], renamed[r[0]][4:12]), *r[5:])
        for r in upserted
    )
    async with own_runtime.sessionmaker() as session:
        for n, state in enumerate(due):
            expected = _changed(AccountState(account_id=state.account_id), n, suffix)
            assert (
                await repository.get_state(session=session, account_id=state.account_id) == expected
            )


@pytest.mark.asyncio(loop_scope="session")
async def test_claimed_cases_are_updated_by_ctid(own_runtime: ServiceRuntime) -> None:
    """EXPLAIN: rows are fetched by ctid (no scan of the table, no primary-key probe), and the
    planner settings that forbid other joins are back to what they were afterwards."""
    await _cases(own_runtime, 50)
    async with own_runtime.sessionmaker() as session, session.begin():
        claimed = await repository.claim_due(session=session, now=AT, limit=20)
        saved = [(s, LATER) for s in claimed.states]
        texts = repository._text_columns(
            ctid=claimed.ctids,
            account_id=[s.account_id for s, _ in saved],
            case_id=[s.progress.case_id for s, _ in saved],
            status=[s.progress.status for s, _ in saved],
            state=[repository.state_json(s) for s, _ in saved],
            step_key=[None for _ in saved],
        )
        params = {**texts.params, "next_action_at": [LATER] * len(saved), "updated_at": AT}
        await session.execute(repository._TID_JOIN_ONLY)
        plan = "\n".join(
            (
                await session.execute(
                    text("EXPLAIN " + repository._UPDATE_CLAIMED[texts.joined].text), params
                )
            ).scalars()
        )
        await session.execute(repository._PLANNER_RESET)
        await repository.save_claimed(session=session, claimed=claimed, saved=saved, now=AT)
        after = (
            await session.execute(
                text("SELECT current_setting('enable_seqscan'), current_setting('enable_hashjoin')")
            )
        ).one()
    assert "Tid Scan on cases" in plan, plan
    assert "Seq Scan on cases" not in plan, plan
    assert "pk_cases" not in plan, plan
    assert tuple(after) == ("on", "on")


@pytest.mark.asyncio(loop_scope="session")
async def test_a_claimed_row_that_is_not_found_rolls_the_batch_back(
    own_runtime: ServiceRuntime,
) -> None:
    ids = sorted(s.account_id for s in await _cases(own_runtime, 2))
    before = await _rows(own_runtime, ids)

    async def sweep_with_a_wrong_ctid() -> None:
        async with own_runtime.sessionmaker() as session, session.begin():
            claimed = await repository.claim_due(session=session, now=AT, limit=100)
            # The second row's ctid is the first's: its account id does not match there.
            wrong = repository.Claimed(claimed.states, [claimed.ctids[0], claimed.ctids[0]])
            saved = [(s, LATER) for s in claimed.states]
            await repository.save_claimed(session=session, claimed=wrong, saved=saved, now=AT)

    with pytest.raises(RuntimeError, match="2 claimed cases, 1 updated"):
        await sweep_with_a_wrong_ctid()
    assert await _rows(own_runtime, ids) == before  # rolled back


@pytest.mark.asyncio(loop_scope="session")
async def test_every_claimed_case_needs_its_saved_state(own_runtime: ServiceRuntime) -> None:
    await _cases(own_runtime, 2)
    async with own_runtime.sessionmaker() as session, session.begin():
        claimed = await repository.claim_due(session=session, now=AT, limit=100)
        assert len(claimed.states) == 2
        with pytest.raises(ValueError, match="one saved state per claimed case"):
            await repository.save_claimed(
                session=session, claimed=claimed, saved=[(claimed.states[0], LATER)], now=AT
            )


@pytest.mark.asyncio(loop_scope="session")
async def test_claimed_cases_stay_locked_until_the_transaction_ends(
    own_runtime: ServiceRuntime,
) -> None:
    """The claim is the batch's first statement, sent on the driver: it must still run in
    the batch's transaction, or its locks would go at once and two sweeps share cases."""
    ids = {s.account_id for s in await _cases(own_runtime, 3)}
    async with own_runtime.sessionmaker() as first, first.begin():
        mine = await repository.claim_due(session=first, now=AT, limit=2)
        async with own_runtime.sessionmaker() as second, second.begin():
            theirs = await repository.claim_due(session=second, now=AT, limit=10)
    assert len(mine.states) == 2
    assert len(theirs.states) == 1
    assert {s.account_id for s in mine.states + theirs.states} == ids
