"""The bulk outbox writes (`add_many`, `add_payloads`) against the rows `add` writes."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from dunlin_events import AccountRegistered
from dunlin_platform.outbox import Outbox, id_block
from dunlin_platform.text_columns import joined_text_columns

from .conftest import Harness, account_registered

AT = dt.datetime(2025, 6, 2, 6, 0, tzinfo=dt.UTC)

# Any text PostgreSQL stores (no NUL, no lone surrogates), with the two separators the
# joined form uses drawn often.
_chars = st.one_of(
    st.sampled_from(["\x1f", "\x1e", '"', "\\", ",", "{", "}"]),
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
)
_names = st.text(_chars, min_size=1, max_size=30)
_traceparents = st.one_of(st.none(), st.just(f"00-{'a' * 32}-{'b' * 16}-01"), _names)


async def _rows(harness: Harness, account: str, write: Any) -> list[dict[str, Any]]:
    """The rows one transaction wrote for the account (rolled back afterwards)."""
    table = harness.tables.outbox
    async with async_sessionmaker(harness.engine)() as session, session.begin():
        await write(session)
        result = await session.execute(
            select(table).where(table.c.aggregateid == account).order_by(table.c.seq)
        )
        rows = [dict(r._mapping) for r in result]
        await session.rollback()
    return rows


def _without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("id", "seq")} for row in rows]


@pytest.mark.asyncio(loop_scope="session")
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    suffix=_names,
    names=st.lists(_names, min_size=1, max_size=5),
    traceparents=st.data(),
)
async def test_add_many_and_add_payloads_write_the_rows_add_writes_whatever_the_text(
    harness: Harness, suffix: str, names: list[str], traceparents: st.DataObject
) -> None:
    account = f"{uuid.uuid4().hex[:8]}{suffix}"[:100]
    events = [account_registered(account, name) for name in names]
    parents = traceparents.draw(st.lists(_traceparents, min_size=len(events), max_size=len(events)))
    outbox = Outbox(table=harness.tables.outbox, source="/tests")

    async def add(session: Any) -> None:
        await outbox.add(session, *events, occurred_at=AT, traceparents=parents)

    async def many(session: Any) -> None:
        await outbox.add_many(session, events, occurred_at=AT, traceparents=parents)

    async def payloads(session: Any) -> None:
        await outbox.add_payloads(
            session,
            AccountRegistered,
            [e.key() for e in events],
            [e.model_dump_json() for e in events],
            occurred_at=AT,
            traceparents=parents,
        )

    expected = await _rows(harness, account, add)
    assert [r["tracingspancontext"] for r in expected] == parents
    for write in (many, payloads):
        rows = await _rows(harness, account, write)
        assert _without_ids(rows) == _without_ids(expected)
        ids = [uuid.UUID(r["id"]) for r in rows]
        assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
        assert [str(i) for i in ids] == [r["id"] for r in rows]  # canonical text
        assert ids == sorted(set(ids))  # distinct, in event (seq) order


@pytest.mark.asyncio(loop_scope="session")
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.lists(
        st.lists(st.one_of(st.none(), st.text(_chars, max_size=8)), min_size=1), min_size=1
    )
)
async def test_joined_columns_split_back_into_exactly_their_values(
    harness: Harness, columns: list[list[str | None]]
) -> None:
    count = len(columns[0])
    named = {
        f"c{i}": values[:count] + [None] * (count - len(values)) for i, values in enumerate(columns)
    }
    joined = joined_text_columns(named)
    if joined is None:
        # Arrays only when some value holds a separator or the one value is "".
        assert any(
            v is not None and ("\x1f" in v or "\x1e" in v or (v == "" and count == 1))
            for values in named.values()
            for v in values
        )
        return
    async with harness.engine.connect() as conn:
        for name, values in named.items():
            split = text("SELECT string_to_array(CAST(:t AS text), chr(31), chr(30))")
            assert (await conn.execute(split, {"t": joined[name]})).scalar_one() == values


def test_columns_travel_joined_when_no_value_holds_a_separator() -> None:
    assert joined_text_columns({"a": ["x", None, ""], "b": ["y", "z", "w"]}) == {
        "a": "x\x1f\x1e\x1f",
        "b": "y\x1fz\x1fw",
    }
    for values in (["x\x1fy"], ["x", "\x1e"], [""]):
        assert joined_text_columns({"a": ["ok"] * len(values), "b": values}) is None


def test_anid_block_is_a_uuid7_of_now_for_every_row() -> None:
    before = time.time_ns() // 1_000_000
    prefix, base = id_block()
    after = time.time_ns() // 1_000_000
    assert 0 <= base < 2**47
    for n in (1, 2, 6000):
        made = uuid.UUID(f"{prefix}{base + n:012x}")
        assert made.version == 7
        assert made.variant == uuid.RFC_4122
        assert before <= made.int >> 80 <= after
    assert id_block() != id_block()
