"""Persistence of accounts, signals, history and predictions (keyword-only, set-based)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from risk.db import AccountRow, SignalRow
from risk.domain.state import AccountState

_EMPTY_STATE_JSON = json.dumps(AccountState().to_json())


async def lock_external_ids(*, session: AsyncSession, external_ids: Collection[str]) -> None:
    """Serialise hold and release of signals per ERP account id (API and consumer alike).

    One statement, locks taken in id order (a volatile function in the select list is
    evaluated after the ORDER BY), so two transactions never wait on each other in a cycle.
    """
    if external_ids:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext('risk-ext:' || x))"
                " FROM unnest(CAST(:xs AS text[])) AS x ORDER BY x"
            ),
            {"xs": sorted(set(external_ids))},
        )


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """What scoring needs of a stored account."""

    account_id: str
    state: str  # as stored: AccountState.loads rebuilds it
    published_score: int | None
    published_tier: str | None
    recommended_limit_minor: int | None


# Plain SQL with column arrays (= ANY, unnest): one parameter per column, not one per id.
_SELECT = (
    "SELECT account_id, state, published_score, published_tier, recommended_limit_minor"
    " FROM risk.accounts"
)
_CREATE = text(
    "INSERT INTO risk.accounts (account_id, registered, state, reasons, actions, updated_at)"
    " SELECT id, false, CAST(:state AS text), '[]', '[]', :now"
    " FROM unnest(CAST(:ids AS text[])) AS id ORDER BY id ON CONFLICT DO NOTHING"
)
_LOCK = text(
    _SELECT + " WHERE account_id = ANY(CAST(:ids AS text[])) ORDER BY account_id FOR UPDATE"
)


async def lock_accounts(
    *, session: AsyncSession, account_ids: Collection[str], now: dt.datetime
) -> dict[str, StoredAccount]:
    """Create missing accounts, then lock and load them all in id order (no deadlocks)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    await session.execute(_CREATE, {"ids": ids, "state": _EMPTY_STATE_JSON, "now": now})
    result = await session.execute(_LOCK, {"ids": ids})
    return {row[0]: StoredAccount(*row) for row in result}


async def registered_bounds(*, session: AsyncSession, every: int) -> list[str]:
    """Every `every`-th registered account id: the upper bounds of rescoring ranges."""
    result = await session.execute(
        text(
            "SELECT account_id FROM (SELECT account_id, row_number() OVER"
            " (ORDER BY account_id) AS n FROM risk.accounts WHERE registered) AS t"
            " WHERE n % :every = 0 ORDER BY account_id"
        ),
        {"every": every},
    )
    return list(result.scalars())


_RANGE = _SELECT + " WHERE registered AND account_id > :after"
_LOCK_RANGE = text(_RANGE + " AND account_id <= :upto ORDER BY account_id FOR UPDATE")
_LOCK_REST = text(_RANGE + " ORDER BY account_id FOR UPDATE")


async def lock_registered_between(
    *, session: AsyncSession, after: str, upto: str | None
) -> list[StoredAccount]:
    """The registered accounts with ids in (after, upto] (no upper end: None), locked, in order."""
    if upto is None:
        result = await session.execute(_LOCK_REST, {"after": after})
    else:
        result = await session.execute(_LOCK_RANGE, {"after": after, "upto": upto})
    return [StoredAccount(*row) for row in result]


async def accounts_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, str]:
    """Dunlin account ids of known ERP account ids."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(AccountRow.external_id, AccountRow.account_id).where(
            AccountRow.external_id.in_(list(external_ids)), AccountRow.registered
        )
    )
    return {str(x): a for x, a in rows}


_SAVE = text(
    """
    UPDATE risk.accounts a SET
        state = COALESCE(s.state, a.state),
        registered = s.registered, external_id = s.external_id, score = s.score,
        tier = s.tier, reasons = CAST(s.reasons AS jsonb), actions = CAST(s.actions AS jsonb),
        model_version = s.model_version, published_score = s.published_score,
        published_tier = s.published_tier, recommended_limit_minor = s.recommended_limit_minor,
        scored_at = s.scored_at, updated_at = s.updated_at
    FROM unnest(
        CAST(:account_id AS text[]), CAST(:state AS text[]), CAST(:registered AS boolean[]),
        CAST(:external_id AS text[]), CAST(:score AS integer[]), CAST(:tier AS text[]),
        CAST(:reasons AS text[]), CAST(:actions AS text[]), CAST(:model_version AS text[]),
        CAST(:published_score AS integer[]), CAST(:published_tier AS text[]),
        CAST(:recommended_limit_minor AS bigint[]), CAST(:scored_at AS timestamptz[]),
        CAST(:updated_at AS timestamptz[])
    ) AS s(account_id, state, registered, external_id, score, tier, reasons, actions,
           model_version, published_score, published_tier, recommended_limit_minor,
           scored_at, updated_at)
    WHERE a.account_id = s.account_id
    """
)
SAVED_COLUMNS = (
    "account_id", "state", "registered", "external_id", "score", "tier", "reasons", "actions",
    "model_version", "published_score", "published_tier", "recommended_limit_minor",
    "scored_at", "updated_at",
)  # fmt: skip


async def save_accounts(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write back accounts in one statement (state None keeps the stored state)."""
    if rows:
        await session.execute(_SAVE, {c: [r[c] for r in rows] for c in SAVED_COLUMNS})


async def insert_signals(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store signals; the ids returned are the new ones (a known signal_id is a duplicate)."""
    if not rows:
        return set()
    result = await session.execute(
        pg_insert(SignalRow).on_conflict_do_nothing().returning(SignalRow.signal_id), list(rows)
    )
    return set(result.scalars())


@dataclass(frozen=True, slots=True)
class HeldSignal:
    """A signal that waited for its ERP account, now given to that account."""

    signal_id: str
    external_account_id: str
    kind: str
    severity: int
    observed_on: dt.date
    requested_terms_days: int | None


_CLAIM = text(
    """
    UPDATE risk.signals s SET account_id = m.account_id
      FROM unnest(CAST(:externals AS text[]), CAST(:accounts AS text[]))
           AS m(external_id, account_id)
     WHERE s.external_account_id = m.external_id AND s.account_id IS NULL
    RETURNING s.signal_id, s.external_account_id, s.kind, s.severity, s.observed_on,
              s.requested_terms_days
    """
)


async def claim_waiting_signals(
    *, session: AsyncSession, accounts: dict[str, str]
) -> list[HeldSignal]:
    """Give held signals of these ERP ids ({external: account}) to their accounts, at once."""
    if not accounts:
        return []
    externals = sorted(accounts)
    result = await session.execute(
        _CLAIM, {"externals": externals, "accounts": [accounts[x] for x in externals]}
    )
    return sorted((HeldSignal(*row) for row in result), key=lambda h: h.signal_id)


_HISTORY = text(
    """
    INSERT INTO risk.score_history
        (account_id, score, tier, previous_score, reasons, measures, model_version, as_of,
         assessed_at)
    SELECT account_id, score, tier, previous_score, CAST(reasons AS jsonb),
           CAST(measures AS jsonb), model_version, as_of, assessed_at
      FROM unnest(
        CAST(:account_id AS text[]), CAST(:score AS integer[]), CAST(:tier AS text[]),
        CAST(:previous_score AS integer[]), CAST(:reasons AS text[]), CAST(:measures AS text[]),
        CAST(:model_version AS text[]), CAST(:as_of AS date[]),
        CAST(:assessed_at AS timestamptz[])
      ) AS h(account_id, score, tier, previous_score, reasons, measures, model_version, as_of,
             assessed_at)
    """
)
HISTORY_COLUMNS = (
    "account_id", "score", "tier", "previous_score", "reasons", "measures", "model_version",
    "as_of", "assessed_at",
)  # fmt: skip


async def add_history(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append published assessments in one statement (reasons and measures as JSON text)."""
    if rows:
        await session.execute(_HISTORY, {c: [r[c] for r in rows] for c in HISTORY_COLUMNS})


_PREDICTIONS = text(
    """
    INSERT INTO risk.payment_predictions
        (invoice_id, account_id, issue_date, due_date, predicted_on, predicted_at)
    SELECT * FROM unnest(
        CAST(:invoice_id AS text[]), CAST(:account_id AS text[]), CAST(:issue_date AS date[]),
        CAST(:due_date AS date[]), CAST(:predicted_on AS date[]),
        CAST(:predicted_at AS timestamptz[])
    )
    ON CONFLICT DO NOTHING
    """
)
PREDICTION_COLUMNS = (
    "invoice_id", "account_id", "issue_date", "due_date", "predicted_on", "predicted_at",
)  # fmt: skip


async def add_predictions(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record first predictions of new invoices (a re-sent invoice keeps its first one)."""
    if rows:
        await session.execute(_PREDICTIONS, {c: [r[c] for r in rows] for c in PREDICTION_COLUMNS})


async def settle_predictions(
    *, session: AsyncSession, settled: Sequence[tuple[str, dt.date]]
) -> None:
    """Record what actually happened to predicted invoices."""
    if not settled:
        return
    await session.execute(
        text(
            "UPDATE risk.payment_predictions p SET settled_on = s.settled_on,"
            " error_days = s.settled_on - p.predicted_on"
            " FROM unnest(CAST(:ids AS text[]), CAST(:days AS date[])) AS s(invoice_id, settled_on)"
            " WHERE p.invoice_id = s.invoice_id AND p.settled_on IS NULL"
        ),
        {"ids": [i for i, _ in settled], "days": [d for _, d in settled]},
    )


async def count_waiting_signals(*, session: AsyncSession) -> int:
    """Signals held for accounts not registered yet."""
    query = select(func.count()).select_from(SignalRow).where(SignalRow.account_id.is_(None))
    return int((await session.execute(query)).scalar_one())


_TRAINING = text(
    """
    SELECT p.issue_date, p.due_date, p.settled_on, CAST(h.measures AS text)
      FROM risk.payment_predictions p
      JOIN LATERAL (
            SELECT measures FROM risk.score_history h
             WHERE h.account_id = p.account_id AND h.as_of <= p.issue_date
             ORDER BY h.as_of DESC, h.id DESC LIMIT 1) AS h ON true
     WHERE p.issue_date <= :reference
    """
)


async def invoice_outcomes(
    *, session: AsyncSession, reference: dt.date
) -> list[tuple[dt.date, dt.date, dt.date | None, dict[str, float]]]:
    """Every invoice issued by `reference` with the signals its account had when it was issued
    (the latest published assessment dated on or before the issue date; none: left out)."""
    result = await session.execute(_TRAINING, {"reference": reference})
    return [(issue, due, settled, json.loads(raw)) for issue, due, settled, raw in result]
