"""Use cases: fold consumed events into cases, sweep due cases, change one account's case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event
from dunlin_platform.outbox import Outbox
from dunlin_platform.router import processing_span
from dunlin_platform.telemetry import current_traceparent, traceparent_of
from dunning import repository as repo
from dunning.domain.assignment import PolicyBook
from dunning.domain.case import AuditEntry, Effects, advance
from dunning.domain.facts import apply
from dunning.domain.state import AccountState
from dunning.metrics import count_promises_after_commit
from dunning.tracing import step_spans


async def _persist(
    *,
    session: AsyncSession,
    outbox: Outbox,
    results: Sequence[tuple[AccountState, Effects]],
    now: dt.datetime,
    traceparents: dict[str, str | None] | None = None,
    claimed: repo.Claimed | None = None,
) -> None:
    """Write states, audit, tasks and events in the caller's transaction.

    An event keeps the traceparent of the step that produced it; otherwise it takes the
    account's entry in `traceparents` (the message that caused it), else the active span's.
    `claimed`: the results are those cases', in order (their rows exist and are locked).
    """
    saved = [(s, fx.next_action_at) for s, fx in results]
    if claimed is None:
        await repo.save_states(session=session, saved=saved, now=now)
    else:
        await repo.save_claimed(session=session, claimed=claimed, saved=saved, now=now)
    await repo.add_audits(
        session=session, entries=[(s.account_id, a) for s, fx in results for a in fx.audit]
    )
    await repo.add_tasks(
        session=session, created=[t for _, fx in results for t in fx.tasks], now=now
    )
    await repo.cancel_open_tasks(
        session=session, case_ids=[fx.closed_case for _, fx in results if fx.closed_case], now=now
    )
    events = [e for _, fx in results for e in fx.events]
    count_promises_after_commit(session, events)
    default = current_traceparent()
    known = traceparents or {}
    await outbox.add_many(
        session,
        events,
        occurred_at=now,
        traceparents=[
            tp for s, fx in results for tp in fx.traceparents(known.get(s.account_id, default))
        ],
    )


async def apply_events(
    *, session: AsyncSession, outbox: Outbox, envelopes: Sequence[Envelope[Event]], now: dt.datetime
) -> None:
    """Fold a batch of events into the accounts' facts; close paid cases at once."""
    states = await repo.lock_states(
        session=session, account_ids=[e.data.account_id for e in envelopes]
    )
    # What an account emits now (a case closed on payment...) continues the trace of the
    # last message applied to it.
    caused_by: dict[str, str | None] = {}
    for envelope in envelopes:
        account_id = envelope.data.account_id
        with processing_span(envelope) as span:
            apply(
                states[account_id],
                envelope.data,
                event_id=envelope.id,
                at=envelope.time,
                traceparent=envelope.traceparent,
            )
            caused_by[account_id] = traceparent_of(span)
    book = await repo.policy_book(session=session)
    results = [(s, advance(s, book.for_account(s), now, execute=False)) for s in states.values()]
    await _persist(session=session, outbox=outbox, results=results, now=now, traceparents=caused_by)


async def sweep_batch(
    *, session: AsyncSession, outbox: Outbox, book: PolicyBook, now: dt.datetime, limit: int
) -> int:
    """Execute the due steps of up to `limit` cases; returns how many cases were claimed."""
    claimed = await repo.claim_due(session=session, now=now, limit=limit)
    trace_step = step_spans()
    results = [
        (s, advance(s, book.for_account(s), now, execute=True, trace_step=trace_step))
        for s in claimed.states
    ]
    await _persist(session=session, outbox=outbox, results=results, now=now, claimed=claimed)
    return len(results)


Change = Callable[[AccountState], tuple[list[Event], list[AuditEntry]]]


async def change_account(
    *, session: AsyncSession, outbox: Outbox, account_id: str, change: Change, now: dt.datetime
) -> AccountState:
    """Apply a command to one account's case under its lock, then re-plan the case."""
    state = (await repo.lock_states(session=session, account_ids=[account_id]))[account_id]
    events, entries = change(state)
    book = await repo.policy_book(session=session)
    fx = advance(state, book.for_account(state), now, execute=False)
    fx.events[:0] = events
    fx.audit[:0] = entries
    await _persist(session=session, outbox=outbox, results=[(state, fx)], now=now)
    return state
