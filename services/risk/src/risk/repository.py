"""Persistence of accounts, signals, history and predictions (keyword-only, set-based)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from risk.db import AccountRow, PredictionRow, ScoreHistoryRow, SignalRow
from risk.domain.state import AccountState

_EMPTY_STATE = AccountState().to_json()


async def lock_external_ids(*, session: AsyncSession, external_ids: Collection[str]) -> None:
    """Serialise hold and release of signals per ERP account id (API and consumer alike)."""
    for external_id in sorted(external_ids):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('risk-ext:' || :x))"), {"x": external_id}
        )


async def lock_accounts(
    *, session: AsyncSession, account_ids: Collection[str], now: dt.datetime
) -> dict[str, AccountRow]:
    """Create missing accounts, then lock and load them all in id order (no deadlocks)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = [
        {
            "account_id": i,
            "registered": False,
            "state": _EMPTY_STATE,
            "reasons": [],
            "actions": [],
            "updated_at": now,
        }
        for i in ids
    ]
    await session.execute(pg_insert(AccountRow).values(rows).on_conflict_do_nothing())
    result = await session.scalars(
        select(AccountRow)
        .where(AccountRow.account_id.in_(ids))
        .order_by(AccountRow.account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.account_id: row for row in result}


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


async def save_accounts(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write back changed accounts by primary key, in one executemany."""
    if rows:
        await session.execute(update(AccountRow), list(rows))


async def insert_signals(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store signals; the ids returned are the new ones (a known signal_id is a duplicate)."""
    if not rows:
        return set()
    result = await session.execute(
        pg_insert(SignalRow)
        .values(list(rows))
        .on_conflict_do_nothing()
        .returning(SignalRow.signal_id)
    )
    return set(result.scalars())


async def claim_waiting_signals(
    *, session: AsyncSession, accounts: dict[str, str]
) -> list[SignalRow]:
    """Give held signals of these ERP ids ({external: account}) to their accounts."""
    claimed: list[SignalRow] = []
    for external_id, account_id in sorted(accounts.items()):
        result = await session.scalars(
            update(SignalRow)
            .where(SignalRow.external_account_id == external_id, SignalRow.account_id.is_(None))
            .values(account_id=account_id)
            .returning(SignalRow)
        )
        claimed += result.all()
    return claimed


async def add_history(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append published assessments."""
    if rows:
        await session.execute(pg_insert(ScoreHistoryRow).values(list(rows)))


async def add_predictions(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record first predictions of new invoices (a re-sent invoice keeps its first one)."""
    if rows:
        await session.execute(pg_insert(PredictionRow).values(list(rows)).on_conflict_do_nothing())


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
