"""Provider verdicts after sending: delivered, or bounced (then the next channel)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from notifications.handlers.outcomes import delivered, fail
from notifications.repository import deliveries as repo

Verdict = Literal["delivered", "bounced", "pending"]

# Twilio MessageStatus / CallStatus values and what they mean for us.
TWILIO_VERDICTS: dict[str, Verdict] = {
    "delivered": "delivered",
    "read": "delivered",
    "completed": "delivered",
    "undelivered": "bounced",
    "failed": "bounced",
    "busy": "bounced",
    "no-answer": "bounced",
    "canceled": "bounced",
}


async def provider_verdict(
    *,
    session: AsyncSession,
    provider: str,
    message_id: str,
    verdict: Verdict,
    detail: str,
    now: dt.datetime,
) -> tuple[bool, list[Event]]:
    """Apply a verdict to the attempt the provider names; (known?, events caused)."""
    found = await repo.find_attempt_by_message(
        session=session, provider=provider, message_id=message_id
    )
    if found is None:
        return False, []
    attempt, row = found
    if verdict == "pending" or attempt.status in ("delivered", "bounced"):
        return True, []  # repeated or intermediate callbacks change nothing
    attempt.status = verdict
    current = row.channel == attempt.channel and row.attempt == attempt.number
    if not current or row.status != "sent":
        return True, []  # a late verdict on an attempt the delivery has moved past
    if verdict == "delivered":
        return True, [delivered(row, provider=provider, now=now)]
    return True, [fail(row, reason="bounced", detail=detail, fallback=True, now=now)]
