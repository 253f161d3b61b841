"""Phase one of a worker round: claim due deliveries, apply the rules, render, mark sending."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from jinja2 import TemplateError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event, NotificationRequested
from notifications.channels.base import ChannelAdapter
from notifications.db import DeliveryRow
from notifications.domain.rules import ContactPolicy, Defer, Refuse, decide
from notifications.handlers.outcomes import fail
from notifications.repository import deliveries as repo
from notifications.repository import prefs as prefs_repo
from notifications.templates.context import template_context
from notifications.templates.engine import TEMPLATE_CHANNELS, Rendered, render
from notifications.templates.store import resolve


@dataclass(frozen=True)
class Job:
    """One message to hand to its adapter, outside any transaction."""

    delivery_id: str
    channel: str
    number: int
    idempotency_key: str
    request: NotificationRequested
    rendered: Rendered | None
    traceparent: str | None = None


def idempotency_key(delivery_id: str, channel: str) -> str:
    """One key for every attempt on a channel: a retry after a timeout (the provider may have
    taken the message) or a crash resends as the same message, never as a second one."""
    return f"{delivery_id}.{channel}"


@dataclass(frozen=True)
class Prepared:
    """What the round will send and the events its refusals caused."""

    jobs: list[Job]
    events: list[Event]
    claimed: int
    traces: Mapping[str, str | None] = field(default_factory=dict)
    """Trace context of each claimed notification id, for the events written about it."""


async def prepare(
    *,
    session: AsyncSession,
    adapters: Mapping[str, ChannelAdapter],
    policy: ContactPolicy,
    creditor_name: str,
    now: dt.datetime,
    limit: int,
) -> Prepared:
    """Claim due rows (SKIP LOCKED) and turn each into a job, a deferral or a failure."""
    rows = await repo.claim_due(session=session, now=now, limit=limit)
    if not rows:
        return Prepared([], [], 0)
    accounts = {r.account_id for r in rows}
    prefs = await prefs_repo.load(session=session, account_ids=accounts)
    sent = defaultdict(
        list,
        await repo.sent_times(session=session, account_ids=accounts, since=now - policy.window),
    )
    wanted = {(r.template_key, r.channel, r.locale) for r in rows if r.channel in TEMPLATE_CHANNELS}
    templates = await resolve(session=session, wanted=wanted)
    jobs: list[Job] = []
    events: list[Event] = []
    attempts: list[dict[str, object]] = []
    for row in rows:
        try:
            request = NotificationRequested.model_validate(row.request)
        except ValidationError as exc:
            events.append(fail(row, reason="rejected", detail=str(exc), fallback=False, now=now))
            continue
        pref = prefs.get(row.account_id)
        decision = decide(
            request=request,
            channel=row.channel,
            now=now,
            policy=policy,
            tags=pref.tags if pref else (),
            registered_consents=pref.consents if pref else None,
            sent_in_window=sent[row.account_id],
        )
        if isinstance(decision, Defer):
            row.next_attempt_at, row.detail, row.updated_at = decision.until, decision.why, now
            continue
        if isinstance(decision, Refuse):
            events.append(
                fail(
                    row,
                    reason=decision.reason,
                    detail=decision.detail,
                    fallback=decision.fallback,
                    now=now,
                )
            )
            continue
        if row.channel not in adapters:
            detail = f"no provider configured for {row.channel}"
            events.append(fail(row, reason="provider_error", detail=detail, fallback=True, now=now))
            continue
        rendered: Rendered | None = None
        if row.channel in TEMPLATE_CHANNELS:
            resolved = templates.get((row.template_key, row.channel, row.locale))
            if resolved is None:
                detail = f"no template {row.template_key!r} for {row.channel}"
                events.append(
                    fail(row, reason="unknown_template", detail=detail, fallback=True, now=now)
                )
                continue
            data = template_context(request, creditor_name=creditor_name)
            try:
                rendered = render(resolved.template, row.channel, data, locale=request.locale)
            except TemplateError as exc:
                detail = f"template {row.template_key!r} ({resolved.origin}): {exc}"
                events.append(
                    fail(row, reason="template_error", detail=detail, fallback=True, now=now)
                )
                continue
        sent[row.account_id].append(now)
        jobs.append(_start_attempt(row, request, rendered, now, attempts))
    await repo.start_attempts(session=session, rows=attempts)
    return Prepared(jobs, events, len(rows), {r.notification_id: r.traceparent for r in rows})


def _start_attempt(
    row: DeliveryRow,
    request: NotificationRequested,
    rendered: Rendered | None,
    now: dt.datetime,
    attempts: list[dict[str, object]],
) -> Job:
    """The row marked `sending`, its attempt appended to `attempts` (inserted together: the
    ORM's insert of new objects renders a statement per count of them)."""
    row.attempt += 1
    row.status, row.updated_at = "sending", now
    key = idempotency_key(row.id, row.channel)
    attempts.append(
        {
            "delivery_id": row.id,
            "channel": row.channel,
            "number": row.attempt,
            "status": "sending",
            "idempotency_key": key,
            "started_at": now,
        }
    )
    return Job(row.id, row.channel, row.attempt, key, request, rendered, row.traceparent)
