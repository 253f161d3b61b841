"""The delivery worker: prepare (one transaction), send (none), record (one transaction)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from dunlin_events import Event
from dunlin_platform.runtime import ServiceRuntime
from dunlin_platform.telemetry import context_from_traceparent, current_traceparent, tracer
from notifications import metrics
from notifications.channels.base import (
    Attachment,
    ChannelAdapter,
    Outgoing,
    PermanentFailure,
    Receipt,
    TransientFailure,
    UnconfirmedFailure,
)
from notifications.config import NotificationsSettings
from notifications.db import AttemptRow, DeliveryRow
from notifications.documents import DocumentRenderer
from notifications.domain.delivery import Retry, after_transient_failure
from notifications.domain.rules import ContactPolicy
from notifications.handlers.outcomes import delivered, fail, sent
from notifications.handlers.prepare import Job, Prepared, prepare
from notifications.letterhead import Letterhead
from notifications.repository import deliveries as repo

log = logging.getLogger(__name__)

Outcome = Receipt | PermanentFailure | TransientFailure | UnconfirmedFailure


@dataclass(frozen=True)
class Done:
    """What became of one job, with the documents it produced."""

    job: Job
    outcome: Outcome
    attachments: Sequence[Attachment]
    traceparent: str | None = None  # of the send's span: its outcome events continue it


def policy_of(settings: NotificationsSettings) -> ContactPolicy:
    """The contact rules from the settings."""
    return ContactPolicy(
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        quiet_channels=frozenset(settings.quiet_hours_channels),
        max_per_account=settings.max_per_account,
        window=dt.timedelta(hours=settings.frequency_window_h),
        do_not_contact_tags=frozenset(settings.do_not_contact_tags),
    )


class DeliveryWorker:
    """Sends what is due; safe to run in several replicas (rows are claimed SKIP LOCKED)."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: NotificationsSettings,
        adapters: Mapping[str, ChannelAdapter],
        documents: DocumentRenderer | None = None,
    ) -> None:
        self.runtime = runtime
        self._runtime = runtime
        self._settings = settings
        self._adapters = adapters
        self._policy = policy_of(settings)
        self.documents = documents or DocumentRenderer(
            Letterhead(settings.creditor_name, settings.creditor_address),
            workers=settings.pdf_workers,
        )
        self._sending = asyncio.Semaphore(max(settings.smtp_pool_size * 4, 16))
        self._claiming = asyncio.Lock()
        self.wake = asyncio.Event()

    @property
    def channels(self) -> list[str]:
        """The channels with an adapter."""
        return list(self._adapters)

    async def run_once(self) -> int:
        """One round: returns how many due deliveries it claimed.

        Rounds may run concurrently (see `drain`): claims take turns, so each sees the rows the
        others are sending (the frequency cap counts them); sending and recording overlap.
        """
        async with self._claiming:
            prepared = await self.claim()
        if prepared.jobs:
            done = await asyncio.gather(*(self.send(job) for job in prepared.jobs))
            await self.record(done)
        return prepared.claimed

    async def drain(self, lanes: int | None = None) -> int:
        """Rounds on `lanes` concurrent lanes until nothing is due; returns how many claimed."""
        claimed = 0

        async def lane() -> None:
            nonlocal claimed
            while n := await self.run_once():
                claimed += n

        await asyncio.gather(*(lane() for _ in range(lanes or self._settings.worker_lanes)))
        return claimed

    async def claim(self) -> Prepared:
        """Phase one, committed: due rows decided, rendered and marked `sending`."""
        now = self._runtime.clock.now()
        async with self._runtime.sessionmaker() as session, session.begin():
            prepared = await prepare(
                session=session,
                adapters=self._adapters,
                policy=self._policy,
                creditor_name=self._settings.creditor_name,
                now=now,
                limit=self._settings.worker_batch_size,
            )
            traceparents = [
                prepared.traces.get(getattr(event, "notification_id", ""))
                for event in prepared.events
            ]
            await self._runtime.outbox.add(
                session, *prepared.events, occurred_at=now, traceparents=traceparents
            )
        return prepared

    async def send(self, job: Job) -> Done:
        """Phase two, in the trace of the request that asked for it."""
        with tracer().start_as_current_span(
            f"deliver {job.channel}",
            context=context_from_traceparent(job.traceparent),
            kind=trace.SpanKind.CLIENT,
        ) as span:
            if span.is_recording():
                request = job.request
                span.set_attributes(
                    {
                        "dunlin.account_id": request.account_id,
                        "dunlin.notification_id": request.notification_id,
                        "dunlin.case_id": request.case_id,
                        "dunlin.dunning_step": request.step_key,
                        "dunlin.channel": job.channel,
                        "dunlin.delivery_id": job.delivery_id,
                        "dunlin.attempt": job.number,
                    }
                )
            done = await self._send(job)
            if not isinstance(done.outcome, Receipt):
                span.set_status(trace.StatusCode.ERROR, type(done.outcome).__name__)
            return Done(done.job, done.outcome, done.attachments, current_traceparent())

    async def _send(self, job: Job) -> Done:
        """Documents, then the provider, outside any transaction."""
        now = self._runtime.clock.now()
        attachments: list[Attachment] = []
        outcome: Outcome
        try:
            attachments = await self._documents(job, now)
            message = Outgoing(
                delivery_id=job.delivery_id,
                channel=job.channel,
                idempotency_key=job.idempotency_key,
                request=job.request,
                rendered=job.rendered,
                attachments=attachments,
            )
            async with self._sending:
                outcome = await self._adapters[job.channel].send(message)
        except (PermanentFailure, TransientFailure, UnconfirmedFailure) as exc:
            outcome = exc
        except Exception as exc:  # an adapter bug must not lose the row: retry later
            log.exception("adapter %s failed unexpectedly", job.channel)
            outcome = TransientFailure(f"unexpected {type(exc).__name__}")
        return Done(job, outcome, attachments)

    async def _documents(self, job: Job, now: dt.datetime) -> list[Attachment]:
        request, rendered = job.request, job.rendered
        today = now.date()
        if job.channel == "letter" and rendered is not None:
            pdf = await self.documents.letter(request, rendered, today=today)
            return [Attachment(f"{job.delivery_id}-{job.number}.pdf", pdf)]
        if (
            job.channel == "email"
            and request.step_key in self._settings.email_attach_statement_steps
        ):
            pdf = await self.documents.statement(request, today=today)
            return [Attachment("statement.pdf", pdf)]
        return []

    async def record(self, done: Sequence[Done]) -> None:
        """Phase three: what happened, and the events, in one transaction."""
        now = self._runtime.clock.now()
        events: list[Event] = []
        traceparents: list[str | None] = []
        documents: list[dict[str, Any]] = []
        async with self._runtime.sessionmaker() as session, session.begin():
            ids = [d.job.delivery_id for d in done]
            rows = {r.id: r for r in await repo.lock_deliveries(session=session, ids=ids)}
            attempts = await repo.open_attempts(session=session, delivery_ids=ids)
            for item in done:
                before = len(events)
                self._record_one(item, rows, attempts, events, documents, now)
                traceparents += [item.traceparent] * (len(events) - before)
            await repo.archive_documents(session=session, rows=documents)
            await self._runtime.outbox.add(
                session, *events, occurred_at=now, traceparents=traceparents
            )

    def _record_one(
        self,
        item: Done,
        rows: Mapping[str, DeliveryRow],
        attempts: Mapping[str, AttemptRow],
        events: list[Event],
        documents: list[dict[str, Any]],
        now: dt.datetime,
    ) -> None:
        """One job's outcome onto its rows; the events it causes appended to `events`, the
        documents it sent to `documents`."""
        row, attempt = rows[item.job.delivery_id], attempts.get(item.job.delivery_id)
        contact_id = item.job.request.recipient.contact_id
        if attempt is None or row.status != "sending" or attempt.number != item.job.number:
            return  # reconciled meanwhile (a very slow provider): leave it as it is
        attempt.finished_at = now
        outcome = item.outcome
        if isinstance(outcome, Receipt):
            attempt.status = "delivered" if outcome.delivered else "sent"
            attempt.provider, attempt.provider_message_id = (
                outcome.provider,
                outcome.message_id,
            )
            events.append(
                sent(
                    row,
                    provider=outcome.provider,
                    message_id=outcome.message_id,
                    now=now,
                    contact_id=contact_id,
                )
            )
            if outcome.delivered:
                events.append(
                    delivered(row, provider=outcome.provider, now=now, contact_id=contact_id)
                )
            documents += [_document(row, doc, now) for doc in item.attachments]
            metrics.delivery_outcomes.add(1, {"channel": row.channel, "status": "sent"})
        elif isinstance(outcome, UnconfirmedFailure):
            attempt.status, attempt.error = "review", str(outcome)[:2000]
            row.status, row.updated_at = "review", now
            row.detail = f"{outcome}; the provider cannot dedupe: needs review"[:2000]
            metrics.delivery_outcomes.add(1, {"channel": row.channel, "status": "review"})
        else:
            attempt.status, attempt.error = "failed", str(outcome)[:2000]
            events += self._failure(row, outcome, now, contact_id)

    def _failure(
        self,
        row: DeliveryRow,
        failure: PermanentFailure | TransientFailure,
        now: dt.datetime,
        contact_id: str,
    ) -> list[Event]:
        metrics.delivery_outcomes.add(1, {"channel": row.channel, "status": "failed"})
        if isinstance(failure, PermanentFailure):
            return [
                fail(
                    row,
                    reason=failure.reason,
                    detail=failure.detail,
                    fallback=True,
                    now=now,
                    contact_id=contact_id,
                )
            ]
        nxt = after_transient_failure(
            channels=row.channels,
            index=row.channel_index,
            attempt=row.attempt,
            max_attempts=self._settings.max_attempts,
            now=now,
            base_s=self._settings.retry_base_s,
            max_s=self._settings.retry_max_s,
        )
        if isinstance(nxt, Retry):
            row.status, row.next_attempt_at, row.detail, row.updated_at = (
                "queued",
                nxt.at,
                str(failure),
                now,
            )
            return []
        detail = str(failure)
        return [
            fail(
                row,
                reason="provider_error",
                detail=detail,
                fallback=True,
                now=now,
                contact_id=contact_id,
            )
        ]

    async def reconcile(self) -> int:
        """Attempts interrupted mid-send: resend with the same key where the provider dedupes,
        else hold the delivery for review rather than risk a second message."""
        now = self._runtime.clock.now()
        lease = dt.timedelta(seconds=self._settings.sending_lease_s)
        async with self._runtime.sessionmaker() as session, session.begin():
            found = await repo.interrupted_attempts(session=session, started_before=now - lease)
            for attempt, row in found:
                adapter = self._adapters.get(attempt.channel)
                attempt.finished_at = now
                if adapter is not None and adapter.idempotent:
                    attempt.status = "interrupted"
                    # The next claim numbers the attempt the same and sends the same key.
                    row.attempt = attempt.number - 1
                    row.status, row.next_attempt_at, row.updated_at = "queued", now, now
                    row.detail = "interrupted; resent with the same idempotency key"
                else:
                    attempt.status = "review"
                    row.status, row.updated_at = "review", now
                    row.detail = "interrupted mid-send; the provider cannot dedupe: needs review"
                metrics.delivery_outcomes.add(
                    1, {"channel": attempt.channel, "status": attempt.status}
                )
        return len(found)


def _document(row: DeliveryRow, doc: Attachment, now: dt.datetime) -> dict[str, Any]:
    kind = "letter" if row.channel == "letter" else "statement"
    return {
        "id": str(uuid.uuid4()),
        "delivery_id": row.id,
        "kind": kind,
        "filename": doc.filename,
        "content": doc.content,
        "created_at": now,
    }
