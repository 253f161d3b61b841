"""Persistence of ERP payments held until their account is known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import PaymentReceived
from payments.db import PendingPaymentRow

# One round trip for the whole batch; the ids arrive sorted and are locked in that order.
_ERP_ACCOUNT_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('payments.erp-account:' || erp_id, 0))"
    " FROM (SELECT erp_id FROM unnest(CAST(:erp_ids AS text[])) WITH ORDINALITY AS t(erp_id, n)"
    " ORDER BY n) AS sorted"
)


async def lock_erp_accounts(*, session: AsyncSession, erp_account_ids: Collection[str]) -> None:
    """Serialise holding and releasing per ERP account id until the transaction ends.

    Without it a payment held while its account is being registered (both uncommitted)
    would be missed by the release and wait forever. Sorted, so lockers cannot deadlock.
    """
    if erp_account_ids:
        await session.execute(_ERP_ACCOUNT_LOCKS, {"erp_ids": sorted(set(erp_account_ids))})


async def held_source_ids(*, session: AsyncSession, source_ids: Collection[str]) -> dict[str, str]:
    """The source ids already held or recorded through the holding pen, with the ERP account
    each was sent for (rejected ones may retry)."""
    if not source_ids:
        return {}
    rows = await session.execute(
        select(PendingPaymentRow.source_id, PendingPaymentRow.erp_account_id).where(
            PendingPaymentRow.source_id.in_(list(source_ids)),
            PendingPaymentRow.status != "rejected",
        )
    )
    return {source: erp_account for source, erp_account in rows}


async def hold(
    *,
    session: AsyncSession,
    source_id: str,
    erp_account_id: str,
    event_id: str,
    payload: dict[str, Any],
    traceparent: str | None,
    now: dt.datetime,
) -> None:
    """Hold a payment; a payment rejected before is held again, anything else is kept."""
    values = {
        "source_id": source_id,
        "erp_account_id": erp_account_id,
        "event_id": event_id,
        "payload": payload,
        "traceparent": traceparent,
        "received_at": now,
        "status": "waiting",
        "payment_id": None,
        "error": None,
        "resolved_at": None,
    }
    statement = pg_insert(PendingPaymentRow).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PendingPaymentRow.source_id],
            set_={k: statement.excluded[k] for k in values if k != "source_id"},
            where=PendingPaymentRow.status == "rejected",
        )
    )


async def held_payment(*, session: AsyncSession, source_id: str) -> PaymentReceived:
    """The payment held under this source id, as it arrived."""
    payload = await session.scalar(
        select(PendingPaymentRow.payload).where(PendingPaymentRow.source_id == source_id)
    )
    if payload is None:
        raise LookupError(f"no held payment {source_id}")
    return PaymentReceived.model_validate(payload)


async def hold_return(
    *, session: AsyncSession, source_id: str, payload: dict[str, Any], traceparent: str | None
) -> None:
    """Keep a return with its waiting payment; the first return wins (re-sends change nothing)."""
    await session.execute(
        update(PendingPaymentRow)
        .where(
            PendingPaymentRow.source_id == source_id,
            PendingPaymentRow.status == "waiting",
            PendingPaymentRow.return_payload.is_(None),
        )
        .values(return_payload=payload, return_traceparent=traceparent)
    )


async def waiting_for(
    *, session: AsyncSession, erp_account_ids: Collection[str]
) -> Sequence[PendingPaymentRow]:
    """Payments waiting for these ERP accounts, in arrival order, locked."""
    if not erp_account_ids:
        return []
    query = (
        select(PendingPaymentRow)
        .where(
            PendingPaymentRow.status == "waiting",
            PendingPaymentRow.erp_account_id.in_(list(erp_account_ids)),
        )
        .order_by(PendingPaymentRow.id)
        .with_for_update()
    )
    return (await session.scalars(query)).all()


async def list_held(
    *,
    session: AsyncSession,
    status: str | None,
    erp_account_id: str | None,
    after_id: int | None,
    limit: int,
) -> Sequence[PendingPaymentRow]:
    """Held payments in arrival order, optionally of one status and one ERP account."""
    query = select(PendingPaymentRow).order_by(PendingPaymentRow.id).limit(limit)
    if status is not None:
        query = query.where(PendingPaymentRow.status == status)
    if erp_account_id is not None:
        query = query.where(PendingPaymentRow.erp_account_id == erp_account_id)
    if after_id is not None:
        query = query.where(PendingPaymentRow.id > after_id)
    return (await session.scalars(query)).all()


async def waiting_summary(*, session: AsyncSession) -> tuple[int, dt.datetime | None]:
    """How many payments wait, and since when the oldest (the partial index answers)."""
    row = (
        await session.execute(
            select(func.count(), func.min(PendingPaymentRow.received_at)).where(
                PendingPaymentRow.status == "waiting"
            )
        )
    ).one()
    return int(row[0]), row[1]
