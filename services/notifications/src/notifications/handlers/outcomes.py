"""Applying an outcome to a delivery row and naming the event it causes."""

from __future__ import annotations

import datetime as dt

from dunlin_events import Event, NotificationDelivered, NotificationFailed, NotificationSent
from dunlin_events.notifications import FailureReason
from notifications.db import DeliveryRow
from notifications.domain.delivery import Fallback, after_hard_failure


def _common(row: DeliveryRow, contact_id: str | None = None) -> dict[str, object]:
    if contact_id is None:
        contact_id = row.request.get("recipient", {}).get("contact_id")
    return {
        "account_id": row.account_id,
        "notification_id": row.notification_id,
        "case_id": row.case_id,
        "step_key": row.step_key,
        "channel": row.channel,
        "contact_id": contact_id,
        "attempt": max(row.attempt, 1),
    }


def fail(
    row: DeliveryRow,
    *,
    reason: FailureReason,
    detail: str,
    fallback: bool,
    now: dt.datetime,
    contact_id: str | None = None,
) -> Event:
    """This channel failed for good: move to the next channel, or end the delivery.

    `contact_id` saves reading the stored request (the worker knows it).
    """
    nxt = after_hard_failure(row.channels, row.channel_index) if fallback else None
    event = NotificationFailed.model_validate(
        _common(row, contact_id)
        | {
            "reason": reason,
            "detail": detail[:2000],
            "fallback_channel": nxt.channel if isinstance(nxt, Fallback) else None,
            "failed_at": now,
        }
    )
    row.failure_reason, row.detail, row.updated_at = reason, detail[:2000], now
    if isinstance(nxt, Fallback):
        row.channel_index, row.channel = nxt.index, nxt.channel
        row.attempt, row.status, row.next_attempt_at = 0, "queued", now
        row.provider = row.provider_message_id = None
    else:
        row.status = "bounced" if reason == "bounced" else "failed"
        row.next_attempt_at = None
    return event


def sent(
    row: DeliveryRow,
    *,
    provider: str,
    message_id: str | None,
    now: dt.datetime,
    contact_id: str | None = None,
) -> Event:
    """Handed to the provider."""
    row.status, row.provider, row.provider_message_id = "sent", provider, message_id
    row.sent_at = row.updated_at = now
    row.next_attempt_at = None
    row.failure_reason = row.detail = None
    return NotificationSent.model_validate(
        _common(row, contact_id)
        | {"provider": provider, "provider_message_id": message_id, "sent_at": now}
    )


def delivered(
    row: DeliveryRow, *, provider: str, now: dt.datetime, contact_id: str | None = None
) -> Event:
    """The provider confirmed receipt."""
    row.status, row.delivered_at, row.updated_at = "delivered", now, now
    return NotificationDelivered.model_validate(
        _common(row, contact_id) | {"provider": provider, "delivered_at": now}
    )
