"""Recording requests and account preferences as they arrive."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import AccountRegistered, NotificationRequested
from notifications.repository import deliveries as repo
from notifications.repository import prefs as prefs_repo


def delivery_values(
    request: NotificationRequested, *, now: dt.datetime, traceparent: str | None = None
) -> dict[str, Any]:
    """The delivery row a request becomes: queued on its first channel, due now."""
    return {
        "id": str(uuid.uuid4()),
        "notification_id": request.notification_id,
        "account_id": request.account_id,
        "case_id": request.case_id,
        "step_key": request.step_key,
        "template_key": request.template_key,
        "locale": request.locale,
        "channels": [request.channel, *request.fallback_channels],
        "channel_index": 0,
        "channel": request.channel,
        "status": "queued",
        "attempt": 0,
        "next_attempt_at": now,
        "request": request.model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
        "traceparent": traceparent,
    }


async def notifications_requested(
    *,
    session: AsyncSession,
    requests: Sequence[NotificationRequested],
    now: dt.datetime,
    traceparents: Sequence[str | None] | None = None,
) -> int:
    """Record the intent first; a notification id already known is ignored."""
    traces = traceparents if traceparents is not None else [None] * len(requests)
    unique = {r.notification_id: (r, t) for r, t in zip(requests, traces, strict=True)}
    rows = [delivery_values(r, now=now, traceparent=t) for r, t in unique.values()]
    return await repo.record_requests(session=session, rows=rows)


async def account_registered(
    *, session: AsyncSession, event: AccountRegistered, now: dt.datetime
) -> None:
    """Keep the account's tags (do_not_contact ...) and each contact's consent."""
    consents = {c.contact_id: c.consent.model_dump() for c in event.contacts}
    await prefs_repo.save(
        session=session,
        account_id=event.account_id,
        tags=list(event.tags),
        consents=consents,
        now=now,
    )
