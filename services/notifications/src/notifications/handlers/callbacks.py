"""Provider verdicts after sending: delivered; bounced (the address is bad) or failed (it did
not arrive this time: a busy line, no answer); both of the latter then take the next channel."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from dunlin_events.notifications import FailureReason
from notifications.handlers.outcomes import delivered, fail
from notifications.repository import deliveries as repo

Verdict = Literal["delivered", "bounced", "failed", "pending"]

# Twilio MessageStatus / CallStatus values and what they mean for us. A busy line, a call
# nobody answered and a message or call cancelled before it went out say nothing against the
# number: the attempt failed (reason provider_error, like a transient failure whose retries ran
# out), it is not a bounce. The channel is not retried: its provider dedupes on the delivery's
# idempotency key, so a resend would not ring or text again.
TWILIO_VERDICTS: dict[str, Verdict] = {
    "delivered": "delivered",
    "read": "delivered",
    "completed": "delivered",
    "undelivered": "bounced",
    "failed": "bounced",
    "busy": "failed",
    "no-answer": "failed",
    "canceled": "failed",
}

# An attempt with one of these verdicts is settled: later callbacks about it change nothing.
SETTLED = frozenset({"delivered", "bounced", "failed"})


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
    if verdict == "pending" or attempt.status in SETTLED:
        return True, []  # repeated or intermediate callbacks change nothing
    attempt.status = verdict
    current = row.channel == attempt.channel and row.attempt == attempt.number
    if not current or row.status != "sent":
        return True, []  # a late verdict on an attempt the delivery has moved past
    if verdict == "delivered":
        return True, [delivered(row, provider=provider, now=now)]
    reason: FailureReason = "bounced" if verdict == "bounced" else "provider_error"
    return True, [fail(row, reason=reason, detail=detail, fallback=True, now=now)]
