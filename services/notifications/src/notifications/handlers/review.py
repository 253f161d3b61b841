"""Operators' decisions on deliveries held for review (an e-mail interrupted mid-send).

Nobody knows whether such an e-mail left: SMTP has no idempotency key, so the worker never
resends it on its own. Someone checks (the mail server's log, the customer) and then either
resends it or closes it as sent or as failed. Every decision is kept with who made it and why.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from notifications import metrics
from notifications.db import ActionRow, AttemptRow, DeliveryRow
from notifications.handlers.outcomes import fail, sent
from notifications.repository import deliveries as repo

log = logging.getLogger(__name__)

Outcome = Literal["sent", "failed"]


class NotFound(LookupError):
    """No such delivery."""


class NotInReview(RuntimeError):
    """The delivery is not held for review (any more)."""


async def _held(session: AsyncSession, delivery_id: str) -> tuple[DeliveryRow, AttemptRow | None]:
    row = await repo.lock_delivery(session=session, delivery_id=delivery_id)
    if row is None:
        raise NotFound(delivery_id)
    if row.status != "review":
        raise NotInReview(f"the delivery is {row.status}, not held for review")
    attempts = await repo.attempts_of(session=session, delivery_ids=[row.id])
    held = [a for a in attempts if a.status == "review" and a.number == row.attempt]
    return row, held[-1] if held else None


def _audit(
    session: AsyncSession,
    row: DeliveryRow,
    *,
    action: str,
    outcome: str | None,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    session.add(
        ActionRow(
            delivery_id=row.id,
            action=action,
            outcome=outcome,
            actor=actor,
            reason=reason,
            created_at=now,
        )
    )
    log.info("delivery %s %s (%s) by %s: %s", row.id, action, outcome or "-", actor, reason)


async def resend(
    *, session: AsyncSession, delivery_id: str, actor: str, reason: str, now: dt.datetime
) -> None:
    """Queue the delivery again on its channel; the held attempt stays as it was."""
    row, _ = await _held(session, delivery_id)
    row.status, row.next_attempt_at, row.updated_at = "queued", now, now
    row.detail = f"resend after review by {actor}"
    _audit(session, row, action="resend", outcome=None, actor=actor, reason=reason, now=now)


async def close(
    *,
    session: AsyncSession,
    delivery_id: str,
    actor: str,
    reason: str,
    outcome: Outcome,
    fallback: bool,
    now: dt.datetime,
) -> list[Event]:
    """Settle it: it was sent (NotificationSent), or it was not (NotificationFailed, and the
    next channel when `fallback`)."""
    row, attempt = await _held(session, delivery_id)
    if attempt is not None:
        attempt.status, attempt.finished_at = outcome, now
    _audit(session, row, action="close", outcome=outcome, actor=actor, reason=reason, now=now)
    metrics.delivery_outcomes.add(1, {"channel": row.channel, "status": outcome})
    if outcome == "sent":
        provider = (attempt.provider if attempt else None) or row.provider or row.channel
        return [sent(row, provider=provider, message_id=None, now=now)]
    detail = f"closed as not sent after review by {actor}: {reason}"
    return [fail(row, reason="provider_error", detail=detail, fallback=fallback, now=now)]
