"""Apply events to account states in one transaction: resolve, fold, score, record."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.trace import SpanContext
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import AccountRegistered, Envelope, Event, ExternalSignalReported
from dunlin_platform.router import processing_span
from dunlin_platform.telemetry import current_traceparent, traceparent_of
from risk import repository as repo
from risk.domain import facts as f
from risk.domain.decisions import predict_payment
from risk.domain.state import AccountState, apply
from risk.repository import HeldSignal
from risk.scoring import Outcome, Scorer, score_account
from risk.translate import LOCAL_DAY_EVENTS, signal_fact, to_fact


def _signal_row(
    event: ExternalSignalReported, account_id: str | None, now: dt.datetime
) -> dict[str, Any]:
    external = event.account_id if event.id_kind == "external" else None
    return {
        "signal_id": event.signal_id,
        "account_id": account_id,
        "external_account_id": external,
        "kind": event.kind,
        "source": event.source,
        "severity": event.severity,
        "observed_on": event.observed_on,
        "text": event.text,
        "requested_terms_days": event.requested_terms_days,
        "received_at": now,
    }


def _held_fact(row: HeldSignal) -> f.Signal:
    on = row.observed_on.toordinal()
    return f.Signal(row.signal_id, row.kind, row.severity, on, row.requested_terms_days)


# A day ahead of UTC is still today somewhere (UTC+14); later is a mistake, and would age the
# whole account to that day (its reference date is the latest business date it has seen).
LATEST_OBSERVED_AHEAD = dt.timedelta(days=1)


def observed_in_the_future(observed_on: dt.date, now: dt.datetime) -> bool:
    """Whether a signal's date is later than today anywhere on Earth."""
    return observed_on > now.date() + LATEST_OBSERVED_AHEAD


async def _signals(
    session: AsyncSession,
    signals: list[tuple[int, ExternalSignalReported]],
    registered: dict[str, str],
    now: dt.datetime,
) -> list[Item]:
    """Signals for known accounts become facts; the rest wait for their ERP account id."""
    externals = {s.account_id for _, s in signals if s.id_kind == "external"}
    known = await repo.accounts_by_external_id(
        session=session, external_ids=externals - registered.keys()
    )
    known |= {x: a for x, a in registered.items() if x in externals}
    rows, owners = [], {}
    for _, signal in signals:
        account_id = (
            signal.account_id if signal.id_kind == "dunlin" else known.get(signal.account_id)
        )
        rows.append(_signal_row(signal, account_id, now))
        owners[signal.signal_id] = account_id
    fresh = await repo.insert_signals(session=session, rows=rows)
    return [
        (i, owner, signal_fact(s))
        for i, s in signals
        if s.signal_id in fresh and (owner := owners[s.signal_id]) is not None
    ]


# A fact, or an event dated on the account's calendar, translated when it is applied.
Pending = f.Fact | Event
# (index of the message in the batch, or HELD for a signal kept for its ERP account; account; fact)
Item = tuple[int, str, Pending]
HELD = -1


async def process(
    *,
    session: AsyncSession,
    events: Sequence[Event],
    scorer: Scorer,
    now: dt.datetime,
    envelopes: Sequence[Envelope[Event]] | None = None,
) -> Outcome:
    """Fold a batch of events into the accounts it concerns and stage what to publish.

    `envelopes` are the consumed messages the events came from (one each): each is applied in
    its own processing span, and what an account publishes continues the trace of the last
    message applied to it.
    """
    registered = {
        e.external_id: e.account_id
        for e in events
        if isinstance(e, AccountRegistered) and e.external_id
    }
    signals = [(i, e) for i, e in enumerate(events) if isinstance(e, ExternalSignalReported)]
    await repo.lock_external_ids(
        session=session,
        external_ids=set(registered)
        | {s.account_id for _, s in signals if s.id_kind == "external"},
    )
    items: list[Item] = []
    for i, event in enumerate(events):
        if isinstance(event, LOCAL_DAY_EVENTS):
            # Its day depends on the account's time zone, known once its state is loaded (and
            # set by an AccountRegistered applied before it, in this batch or an earlier one).
            items.append((i, event.account_id, event))
        elif not isinstance(event, ExternalSignalReported):
            fact = to_fact(event)
            if fact is not None:
                items.append((i, event.account_id, fact))
    items += await _signals(session, signals, registered, now)
    for held in await repo.claim_waiting_signals(session=session, accounts=registered):
        items.append((HELD, registered[str(held.external_account_id)], _held_fact(held)))
    return await fold(session=session, items=items, scorer=scorer, now=now, envelopes=envelopes)


def _apply_traced(
    items: Sequence[Item],
    envelopes: Sequence[Envelope[Event]],
    apply_one: Callable[[str, Pending], None],
) -> dict[str, str | None]:
    """Apply each message's facts in its processing span; the trace each account continues."""
    by_message: dict[int, list[tuple[str, Pending]]] = defaultdict(list)
    for i, account_id, fact in items:
        by_message[i].append((account_id, fact))
    spans: dict[str, SpanContext] = {}
    for i, envelope in enumerate(envelopes):
        with processing_span(envelope) as span:
            for account_id, fact in by_message.get(i, ()):
                apply_one(account_id, fact)
                spans[account_id] = span.get_span_context()
    for account_id, fact in by_message.get(HELD, ()):
        apply_one(account_id, fact)
    return {a: traceparent_of(c) for a, c in spans.items()}


async def fold(
    *,
    session: AsyncSession,
    items: Sequence[Item],
    scorer: Scorer,
    now: dt.datetime,
    envelopes: Sequence[Envelope[Event]] | None = None,
) -> Outcome:
    """Apply facts per account, score, and write accounts, history and predictions.

    Items are applied in the order of their messages (held signals last). An event dated on
    the account's calendar is translated with the zone its state has at that point: the zone of
    an AccountRegistered applied before it, or UTC when none has been (the account is not
    registered with risk yet); facts already applied are not re-dated by a later registration.
    """
    rows = await repo.lock_accounts(session=session, account_ids={a for _, a, _ in items}, now=now)
    states = {account_id: AccountState.loads(row.state) for account_id, row in rows.items()}
    predictions: list[dict[str, Any]] = []
    settled: list[tuple[str, dt.date]] = []

    def apply_one(account_id: str, pending: Pending) -> None:
        state = states[account_id]
        fact = to_fact(pending, state.time_zone) if isinstance(pending, Event) else pending
        if fact is None:
            return
        if isinstance(fact, f.Invoiced) and _unseen(state, fact.invoice_id):
            predicted = predict_payment(state, issue=fact.issue, due=fact.due)
            predictions.append(_prediction(account_id, fact, predicted, now))
        elif isinstance(fact, f.Settled):
            settled.append((fact.invoice_id, dt.date.fromordinal(fact.settled)))
        apply(state, fact)

    caused_by: dict[str, str | None] = {}
    if envelopes is not None:
        caused_by = _apply_traced(items, envelopes, apply_one)
    else:
        for _, account_id, fact in items:
            apply_one(account_id, fact)
    default = current_traceparent()
    outcome = Outcome()
    for account_id, row in rows.items():
        traceparent = caused_by.get(account_id, default)
        score_account(
            row,
            states[account_id],
            scorer=scorer,
            now=now,
            outcome=outcome,
            traceparent=traceparent,
        )
    await repo.save_accounts(session=session, rows=outcome.account_rows)
    await repo.add_history(session=session, rows=outcome.history)
    await repo.add_predictions(session=session, rows=predictions)
    await repo.settle_predictions(session=session, settled=settled)
    return outcome


def _unseen(state: AccountState, invoice_id: str) -> bool:
    """Neither open nor settled yet: a settlement seen first leaves nothing to predict."""
    return invoice_id not in state.invoices and all(s[2] != invoice_id for s in state.settlements)


def _prediction(
    account_id: str, fact: f.Invoiced, predicted: int, now: dt.datetime
) -> dict[str, Any]:
    return {
        "invoice_id": fact.invoice_id,
        "account_id": account_id,
        "issue_date": dt.date.fromordinal(fact.issue),
        "due_date": dt.date.fromordinal(fact.due),
        "predicted_on": dt.date.fromordinal(predicted),
        "predicted_at": now,
    }
