"""Persistence of cases, policies, audit records and collector tasks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from pydantic_core import to_json
from sqlalchemy import func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from dunlin_events import CollectorTaskCreated, to_minor
from dunlin_platform.db import transaction_driver
from dunlin_platform.outbox_copy import (
    NULL_FIELD,
    BinaryCopy,
    copy_in,
    field_count,
    jsonb_field,
    text_field,
    timestamptz_field,
)
from dunlin_platform.text_columns import joined_text_columns, text_array_sql
from dunning.db import assignments, audit, cases, policies, tasks
from dunning.domain.assignment import PolicyBook
from dunning.domain.case import AuditEntry
from dunning.domain.policy import Policy, PolicyBody
from dunning.domain.state import AccountInfo, AccountState, Progress


async def policy_book(*, session: AsyncSession) -> PolicyBook:
    """The built-in policies overlaid with every stored version and assignment rule."""
    book = PolicyBook.built_in()
    for row in await session.execute(
        select(policies.c.policy_id, policies.c.version, policies.c.body)
    ):
        book.add(
            Policy(
                policy_id=row.policy_id,
                version=row.version,
                body=PolicyBody.model_validate(row.body),
            )
        )
    for row in await session.execute(select(assignments)):
        (book.by_tag if row.kind == "tag" else book.by_tier)[row.value] = row.policy_id
    return book


def _decode(account_id: str, raw: str | None) -> AccountState:
    # The validator called directly: `model_validate_json` is a Python wrapper around it
    # (~0.4 us of a ~5 us decode, once per claimed case).
    return _VALIDATE_STATE(raw) if raw else AccountState(account_id=account_id)


_VALIDATE_STATE = cast(
    "Callable[[str], AccountState]", AccountState.__pydantic_validator__.validate_json
)


async def lock_states(
    *, session: AsyncSession, account_ids: Sequence[str]
) -> dict[str, AccountState]:
    """The accounts' states, locked in id order (new accounts get an empty state)."""
    ids = sorted(set(account_ids))
    rows = await session.execute(
        select(cases.c.account_id, cases.c.state)
        .where(cases.c.account_id.in_(ids))
        .order_by(cases.c.account_id)
        .with_for_update()
    )
    found = {row.account_id: _decode(row.account_id, row.state) for row in rows}
    return {i: found.get(i) or AccountState(account_id=i) for i in ids}


async def get_state(*, session: AsyncSession, account_id: str) -> AccountState | None:
    """One account's state, unlocked, or None if dunning has never heard of it."""
    raw = await session.scalar(select(cases.c.state).where(cases.c.account_id == account_id))
    return _decode(account_id, raw) if raw else None


@dataclass(frozen=True)
class Claimed:
    """Due cases locked by `claim_due`, with where their rows lie (`ctid`, as text).

    A row locked FOR UPDATE stays where it is until the transaction ends (only an update
    moves it, and no one else may update it), so `save_claimed` finds each row by its
    `ctid` instead of probing the primary key for it.
    """

    states: list[AccountState]
    ctids: list[str]


async def claim_due(*, session: AsyncSession, now: dt.datetime, limit: int) -> Claimed:
    """Up to `limit` due cases, locked; rows another replica holds are skipped.

    Fetched on the session's asyncpg connection, in its transaction: SQLAlchemy's result
    rows cost ~3 us per claimed case more than asyncpg's records (in-process A/B).
    """
    connection = await transaction_driver(session)
    states, ctids = [], []
    for account_id, state, ctid in await connection.fetch(_CLAIM_DUE, now, limit):
        states.append(_decode(account_id, state))
        ctids.append(ctid)
    return Claimed(states, ctids)


_CLAIM_DUE = """
    SELECT account_id, state, CAST(ctid AS text) FROM dunning.cases
    WHERE next_action_at <= $1
    ORDER BY next_action_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
"""


async def due_at_least(*, session: AsyncSession, now: dt.datetime, n: int) -> bool:
    """Whether `n` or more cases are due (reads at most `n` entries of the partial index)."""
    due = select(literal(1)).where(cases.c.next_action_at <= now).limit(n).subquery()
    return (await session.scalar(select(func.count()).select_from(due)) or 0) >= n


def _step_key(state: AccountState) -> str | None:
    progress = state.progress
    return progress.steps[-1].key if progress.status == "open" and progress.steps else None


async def open_cases_by_step(*, session: AsyncSession) -> dict[str, int]:
    """How many open cases stand at each step (an index-only grouped count)."""
    rows = await session.execute(
        select(cases.c.step_key, func.count())
        .where(cases.c.status == "open")
        .group_by(cases.c.step_key)
    )
    return {step or "none": int(n) for step, n in rows}


async def save_states(
    *,
    session: AsyncSession,
    saved: Sequence[tuple[AccountState, dt.datetime | None]],
    now: dt.datetime,
) -> None:
    """Upsert the states with their next action time."""
    if not saved:
        return
    # One statement per batch, whatever its size: columns travel as arrays (unnest), so
    # neither SQLAlchemy nor the driver handles rows one by one.
    texts = _text_columns(
        account_id=[state.account_id for state, _ in saved],
        case_id=[state.progress.case_id for state, _ in saved],
        status=[state.progress.status for state, _ in saved],
        state=[state_json(state) for state, _ in saved],
        step_key=[_step_key(state) for state, _ in saved],
    )
    await session.execute(
        _UPSERT_CASES[texts.joined],
        {**texts.params, "next_action_at": [next_at for _, next_at in saved], "updated_at": now},
    )


async def save_claimed(
    *,
    session: AsyncSession,
    claimed: Claimed,
    saved: Sequence[tuple[AccountState, dt.datetime | None]],
    now: dt.datetime,
) -> None:
    """`save_states` for the cases `claimed` (every one of them, in its order): an UPDATE
    of each row found by its `ctid`, where the upsert would probe the primary key twice
    (for the conflict, then for the row) and build a row to insert first.

    Raises (so the transaction rolls back) unless every claimed row was updated.
    """
    if len(saved) != len(claimed.ctids):
        raise ValueError("one saved state per claimed case")
    if not saved:
        return
    texts = _text_columns(
        ctid=claimed.ctids,
        account_id=[state.account_id for state, _ in saved],
        case_id=[state.progress.case_id for state, _ in saved],
        status=[state.progress.status for state, _ in saved],
        state=[state_json(state) for state, _ in saved],
        step_key=[_step_key(state) for state, _ in saved],
    )
    await session.execute(_TID_JOIN_ONLY)
    result = await session.execute(
        _UPDATE_CLAIMED[texts.joined],
        {**texts.params, "next_action_at": [next_at for _, next_at in saved], "updated_at": now},
    )
    await session.execute(_PLANNER_RESET)
    updated = cast("CursorResult[Any]", result).rowcount
    if updated != len(saved):
        raise RuntimeError(f"{len(saved)} claimed cases, {updated} updated")


def state_json(state: AccountState) -> str:
    """`state.model_dump_json(exclude_defaults=True)`, the stored document, in 80 % of the time.

    To leave out a defaulted field, pydantic compares it with a fresh default: it builds an
    `AccountInfo()` and a `Progress()` on every call and compares them field by field in
    Python. Here those two are dumped on their own and left out when nothing of them differs
    from their defaults (an empty object), which is the same test; the rest of the state is
    dumped by pydantic without them, and the parts are joined in field order (account_id and
    account first, progress last: `test_state_json.py` holds it to pydantic's output).
    """
    parts = ['{"account_id":', to_json(state.account_id).decode()]
    # The classes' serializers called directly: `model_dump_json` is a Python wrapper that
    # passes them sixteen keywords and decodes (same bytes, ~1 us less per call).
    account = _ACCOUNT_JSON(state.account, exclude_defaults=True)
    if account != b"{}":
        parts += [',"account":', account.decode()]
    rest = _STATE_JSON(state, exclude_defaults=True, exclude=_DUMPED_APART)
    if rest != b"{}":
        parts += [",", rest[1:-1].decode()]
    progress = _PROGRESS_JSON(state.progress, exclude_defaults=True)
    if progress != b"{}":
        parts += [',"progress":', progress.decode()]
    parts.append("}")
    return "".join(parts)


_DUMPED_APART = {"account_id", "account", "progress"}
_ACCOUNT_JSON = AccountInfo.__pydantic_serializer__.to_json
_STATE_JSON = AccountState.__pydantic_serializer__.to_json
_PROGRESS_JSON = Progress.__pydantic_serializer__.to_json


@dataclass(frozen=True)
class _TextColumns:
    """A batch's text columns: joined (`dunlin_platform.text_columns`) or as text[]s."""

    joined: bool
    params: dict[str, Any]


def _text_columns(**columns: Sequence[str | None]) -> _TextColumns:
    joined = joined_text_columns(columns)
    return _TextColumns(False, dict(columns)) if joined is None else _TextColumns(True, joined)


def _upsert_cases(joined: bool) -> TextClause:
    col = partial(text_array_sql, joined=joined)
    return text(
        f"""
        INSERT INTO dunning.cases
            (account_id, case_id, status, next_action_at, state, step_key, updated_at)
        SELECT u.account_id, u.case_id, u.status, u.next_action_at, u.state, u.step_key,
            CAST(:updated_at AS timestamptz)
        FROM unnest(
            {col("account_id")}, {col("case_id")}, {col("status")},
            CAST(:next_action_at AS timestamptz[]), {col("state")}, {col("step_key")}
        ) AS u(account_id, case_id, status, next_action_at, state, step_key)
        ON CONFLICT (account_id) DO UPDATE SET
            case_id = excluded.case_id, status = excluded.status,
            next_action_at = excluded.next_action_at, state = excluded.state,
            step_key = excluded.step_key, updated_at = excluded.updated_at
        """  # noqa: S608 - only our own column expressions are interpolated
    )


_UPSERT_CASES = {joined: _upsert_cases(joined) for joined in (True, False)}


def _update_claimed(joined: bool) -> TextClause:
    col = partial(text_array_sql, joined=joined)
    # The account id is compared too, as a guard: wrapped in IS TRUE, which no index can
    # answer, so that it is checked on the row fetched by its ctid instead of offering the
    # planner a primary-key probe.
    return text(
        f"""
        UPDATE dunning.cases AS c SET
            case_id = u.case_id, status = u.status, next_action_at = u.next_action_at,
            state = u.state, step_key = u.step_key, updated_at = CAST(:updated_at AS timestamptz)
        FROM unnest(
            CAST({col("ctid")} AS tid[]), {col("account_id")}, {col("case_id")}, {col("status")},
            CAST(:next_action_at AS timestamptz[]), {col("state")}, {col("step_key")}
        ) AS u(ctid, account_id, case_id, status, next_action_at, state, step_key)
        WHERE c.ctid = u.ctid AND (c.account_id = u.account_id) IS TRUE
        """  # noqa: S608 - only our own column expressions are interpolated
    )


_UPDATE_CLAIMED = {joined: _update_claimed(joined) for joined in (True, False)}

# The planner's costs treat a TID fetch as a random page read (random_page_cost): below
# ~100,000 cases it would rather read the whole table and hash-join it (EXPLAIN ANALYZE,
# 50,000 cases, 2,000 claimed: 40 ms against 6 ms for the TID lookups). For the update
# alone, within the transaction, the join may only fetch rows by their ctid
# (`test_claimed_cases_are_updated_by_ctid`).
_TID_JOIN_ONLY = text(
    "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),"
    " set_config('enable_mergejoin', 'off', true)"
)
_PLANNER_RESET = text(
    "SELECT set_config(name, reset_val, true) FROM pg_settings"
    " WHERE name IN ('enable_seqscan', 'enable_hashjoin', 'enable_mergejoin')"
)


async def add_audit(
    *, session: AsyncSession, account_id: str, entries: Sequence[AuditEntry]
) -> None:
    """Append immutable audit records."""
    await add_audits(session=session, entries=[(account_id, e) for e in entries])


async def add_audits(*, session: AsyncSession, entries: Sequence[tuple[str, AuditEntry]]) -> None:
    """Append immutable audit records of several accounts, in order, by one binary COPY.

    COPY stores the rows a page at a time and parses nothing: a third less database CPU
    than `INSERT ... SELECT FROM unnest(...)` for the sweep's three records per case, and
    any text travels as it is (`test_repository_columns.py`). The COPY data is written
    here (`dunlin_platform.outbox_copy.BinaryCopy`): the values a batch repeats (an
    account's id, the actions, the time) are encoded once, and the detail goes as the
    bytes pydantic wrote.
    """
    if not entries:
        return
    copy = BinaryCopy()
    parts = copy.parts
    start = field_count(len(_AUDIT_COLUMNS))
    texts: dict[str | None, bytes] = {None: NULL_FIELD}
    times: dict[dt.datetime, bytes] = {}
    for account_id, e in entries:
        row = [start]
        for value in (account_id, e.case_id, e.action, e.step_key, e.actor, e.reason):
            field = texts.get(value)
            if field is None:
                field = texts[value] = text_field(value)
            row.append(field)
        at = times.get(e.at)
        if at is None:
            at = times[e.at] = timestamptz_field(e.at)
        row += (at, jsonb_field(_detail_bytes(e.detail)))
        parts += row
    await copy_in(
        session, table=audit.name, schema=audit.schema, columns=_AUDIT_COLUMNS, data=copy.data()
    )


_AUDIT_COLUMNS = ("account_id", "case_id", "action", "step_key", "actor", "reason", "at", "detail")


async def add_tasks(
    *, session: AsyncSession, created: Sequence[CollectorTaskCreated], now: dt.datetime
) -> None:
    """Put call tasks on the worklist (a re-run finds them there already)."""
    if not created:
        return
    rows = [
        {
            "task_id": t.task_id,
            "account_id": t.account_id,
            "case_id": t.case_id,
            "step_key": t.step_key,
            "status": "open",
            "priority": t.priority,
            "due_at": t.due_at,
            "contact_id": t.contact_id,
            "currency": t.currency,
            "dunned_balance_minor": to_minor(t.dunned_balance, t.currency),
            "invoice_ids": list(t.invoice_ids),
            "created_at": now,
        }
        for t in created
    ]
    await session.execute(
        insert(tasks).on_conflict_do_nothing(index_elements=[tasks.c.task_id]), rows
    )


async def cancel_open_tasks(
    *, session: AsyncSession, case_ids: Sequence[str], now: dt.datetime
) -> None:
    """Closed cases need no more calls."""
    if case_ids:
        await session.execute(
            update(tasks)
            .where(tasks.c.case_id.in_(case_ids), tasks.c.status == "open")
            .values(status="cancelled", completed_at=now, completed_by="system")
        )


# `json.dumps(value, default=str)`: with any option json.dumps builds a new encoder per call.
_to_json = json.JSONEncoder(default=str).encode


def _detail_json(detail: Mapping[str, Any]) -> str:
    """An audit detail as JSON for its jsonb column: the same document as `as_json`.

    Details hold JSON values (str, int, float, bool, None, lists, dicts), which pydantic's
    encoder writes in a sixth of the time `json` takes: the spacing differs, the jsonb value
    does not (`test_audit_detail_json.py`). Types unknown to pydantic still become their
    `str`; those it knows (dates, decimals, UUIDs), which no detail holds, it writes its way.
    """
    return _detail_bytes(detail).decode()


def _detail_bytes(detail: Mapping[str, Any]) -> bytes:
    """`_detail_json`, encoded (as the binary COPY sends it)."""
    return to_json(detail, fallback=str)


def as_json(value: Any) -> str:
    """JSON text for JsonText columns."""
    return _to_json(value)
