"""Deliveries and their attempts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, case, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from notifications.db import ActionRow, AttemptRow, DeliveryRow, DocumentRow
from notifications.repository.shapes import ColumnsInsert, one_of

# A new delivery's columns (`intake.delivery_values`); one statement for any batch size.
_RECORD = ColumnsInsert(
    cast(Table, DeliveryRow.__table__),
    [
        "id",
        "notification_id",
        "account_id",
        "case_id",
        "step_key",
        "template_key",
        "locale",
        "channels",
        "channel_index",
        "channel",
        "status",
        "attempt",
        "next_attempt_at",
        "request",
        "created_at",
        "updated_at",
        "traceparent",
    ],
    "ON CONFLICT (notification_id) DO NOTHING RETURNING id",
)
_START_ATTEMPTS = ColumnsInsert(
    cast(Table, AttemptRow.__table__),
    ["delivery_id", "channel", "number", "status", "idempotency_key", "started_at"],
)


async def record_requests(*, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert new deliveries; a notification id seen before is ignored. Returns rows added."""
    if not rows:
        return 0
    result = await session.execute(_RECORD.statement, _RECORD.parameters(rows))
    return len(result.all())


async def start_attempts(*, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `sending` attempts (delivery_id, channel, number, status, idempotency_key,
    started_at) in one statement; their ids are not read back."""
    if rows:
        await session.execute(_START_ATTEMPTS.statement, _START_ATTEMPTS.parameters(rows))


async def claim_due(*, session: AsyncSession, now: dt.datetime, limit: int) -> list[DeliveryRow]:
    """Lock queued deliveries that are due; other workers skip them."""
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.status == "queued", DeliveryRow.next_attempt_at <= now)
        .order_by(DeliveryRow.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def sent_times(
    *, session: AsyncSession, account_ids: Collection[str], since: dt.datetime
) -> dict[str, list[dt.datetime]]:
    """When messages went to each account after a moment (for the frequency cap)."""
    if not account_ids:
        return {}
    # A delivery being sent right now (claimed by another round) counts as sent now.
    sending = DeliveryRow.status == "sending"
    when = case((sending, DeliveryRow.updated_at), else_=DeliveryRow.sent_at)
    query = select(DeliveryRow.account_id, when).where(
        one_of(DeliveryRow.account_id, account_ids),
        or_(DeliveryRow.sent_at > since, sending),
    )
    times: dict[str, list[dt.datetime]] = {}
    for account, at in (await session.execute(query)).all():
        times.setdefault(account, []).append(at)
    return times


async def interrupted_attempts(
    *, session: AsyncSession, started_before: dt.datetime, limit: int = 500
) -> list[tuple[AttemptRow, DeliveryRow]]:
    """Attempts left in `sending` longer than the lease: the process died mid-send."""
    query = (
        select(AttemptRow, DeliveryRow)
        .join(DeliveryRow, DeliveryRow.id == AttemptRow.delivery_id)
        .where(AttemptRow.status == "sending", AttemptRow.started_at < started_before)
        .order_by(AttemptRow.started_at)
        .limit(limit)
        .with_for_update(of=DeliveryRow, skip_locked=True)
    )
    return [(a, d) for a, d in (await session.execute(query)).all()]


async def lock_deliveries(*, session: AsyncSession, ids: Collection[str]) -> list[DeliveryRow]:
    """Lock deliveries by id (to record what happened to their attempts); the stored request,
    the bulk of a row, is not loaded (reading `request` on these rows is an error)."""
    if not ids:
        return []
    query = (
        select(DeliveryRow)
        .where(one_of(DeliveryRow.id, ids))
        .options(defer(DeliveryRow.request, raiseload=True))
        .with_for_update()
    )
    return list((await session.scalars(query)).all())


async def open_attempts(
    *, session: AsyncSession, delivery_ids: Collection[str]
) -> dict[str, AttemptRow]:
    """The `sending` attempt of each delivery."""
    query = select(AttemptRow).where(
        one_of(AttemptRow.delivery_id, delivery_ids), AttemptRow.status == "sending"
    )
    return {a.delivery_id: a for a in (await session.scalars(query)).all()}


async def find_attempt_by_message(
    *, session: AsyncSession, provider: str, message_id: str
) -> tuple[AttemptRow, DeliveryRow] | None:
    """The attempt a provider knows by this id, with its delivery locked."""
    query = (
        select(AttemptRow, DeliveryRow)
        .join(DeliveryRow, DeliveryRow.id == AttemptRow.delivery_id)
        .where(AttemptRow.provider == provider, AttemptRow.provider_message_id == message_id)
        .with_for_update(of=DeliveryRow)
    )
    found = (await session.execute(query)).first()
    return None if found is None else (found[0], found[1])


async def list_for_log(
    *,
    session: AsyncSession,
    account_id: str | None,
    status: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[DeliveryRow]:
    """Deliveries newest first, keyset-paginated on (created_at, id)."""
    query = select(DeliveryRow)
    if account_id is not None:
        query = query.where(DeliveryRow.account_id == account_id)
    if status is not None:
        query = query.where(DeliveryRow.status == status)
    if after is not None:
        created = dt.datetime.fromisoformat(after[0])
        query = query.where(
            (DeliveryRow.created_at < created)
            | ((DeliveryRow.created_at == created) & (DeliveryRow.id < after[1]))
        )
    query = query.order_by(DeliveryRow.created_at.desc(), DeliveryRow.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def lock_delivery(*, session: AsyncSession, delivery_id: str) -> DeliveryRow | None:
    """One delivery by id, locked for an update."""
    query = select(DeliveryRow).where(DeliveryRow.id == delivery_id).with_for_update()
    return (await session.scalars(query)).first()


async def actions_of(*, session: AsyncSession, delivery_id: str) -> list[ActionRow]:
    """Operators' decisions on a delivery, oldest first."""
    query = select(ActionRow).where(ActionRow.delivery_id == delivery_id).order_by(ActionRow.id)
    return list((await session.scalars(query)).all())


async def get(*, session: AsyncSession, delivery_id: str) -> DeliveryRow | None:
    """One delivery by id."""
    return await session.get(DeliveryRow, delivery_id)


async def attempts_of(*, session: AsyncSession, delivery_ids: Collection[str]) -> list[AttemptRow]:
    """Every attempt of these deliveries, oldest first."""
    if not delivery_ids:
        return []
    query = (
        select(AttemptRow)
        .where(one_of(AttemptRow.delivery_id, delivery_ids))
        .order_by(AttemptRow.id)
    )
    return list((await session.scalars(query)).all())


async def archive_documents(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep sent documents: one prepared INSERT executed for every row (the driver's
    executemany), not an ORM object each nor a statement compiled for a round's rows."""
    if rows:
        await session.execute(insert(cast(Table, DocumentRow.__table__)), list(rows))


async def documents_of(*, session: AsyncSession, delivery_id: str) -> list[DocumentRow]:
    """The archived documents of a delivery, without loading their content twice."""
    query = select(DocumentRow).where(DocumentRow.delivery_id == delivery_id)
    return list((await session.scalars(query)).all())


async def document(*, session: AsyncSession, document_id: str) -> DocumentRow | None:
    """One archived document."""
    return await session.get(DocumentRow, document_id)
