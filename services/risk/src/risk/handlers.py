"""Apply events to account states in one transaction: resolve, fold, score, record."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import AccountRegistered, Event, ExternalSignalReported
from risk import repository as repo
from risk.db import SignalRow
from risk.domain import facts as f
from risk.domain.decisions import predict_payment
from risk.domain.state import AccountState, apply
from risk.scoring import Outcome, Scorer, score_account
from risk.translate import signal_fact, to_fact


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


def _held_fact(row: SignalRow) -> f.Signal:
    on = row.observed_on.toordinal()
    return f.Signal(row.signal_id, row.kind, row.severity, on, row.requested_terms_days)


async def _signals(
    session: AsyncSession,
    signals: list[ExternalSignalReported],
    registered: dict[str, str],
    now: dt.datetime,
) -> list[tuple[str, f.Fact]]:
    """Signals for known accounts become facts; the rest wait for their ERP account id."""
    externals = {s.account_id for s in signals if s.id_kind == "external"}
    known = await repo.accounts_by_external_id(
        session=session, external_ids=externals - registered.keys()
    )
    known |= {x: a for x, a in registered.items() if x in externals}
    rows, owners = [], {}
    for signal in signals:
        account_id = (
            signal.account_id if signal.id_kind == "dunlin" else known.get(signal.account_id)
        )
        rows.append(_signal_row(signal, account_id, now))
        owners[signal.signal_id] = account_id
    fresh = await repo.insert_signals(session=session, rows=rows)
    return [
        (owner, signal_fact(s))
        for s in signals
        if s.signal_id in fresh and (owner := owners[s.signal_id]) is not None
    ]


async def process(
    *, session: AsyncSession, events: Sequence[Event], scorer: Scorer, now: dt.datetime
) -> Outcome:
    """Fold a batch of events into the accounts it concerns and stage what to publish."""
    registered = {
        e.external_id: e.account_id
        for e in events
        if isinstance(e, AccountRegistered) and e.external_id
    }
    signals = [e for e in events if isinstance(e, ExternalSignalReported)]
    await repo.lock_external_ids(
        session=session,
        external_ids=set(registered) | {s.account_id for s in signals if s.id_kind == "external"},
    )
    per_account: dict[str, list[f.Fact]] = defaultdict(list)
    for event in events:
        if not isinstance(event, ExternalSignalReported):
            fact = to_fact(event)
            if fact is not None:
                per_account[event.account_id].append(fact)
    for account_id, fact in await _signals(session, signals, registered, now):
        per_account[account_id].append(fact)
    for held in await repo.claim_waiting_signals(session=session, accounts=registered):
        per_account[registered[str(held.external_account_id)]].append(_held_fact(held))
    return await fold(session=session, per_account=per_account, scorer=scorer, now=now)


async def fold(
    *,
    session: AsyncSession,
    per_account: dict[str, list[f.Fact]],
    scorer: Scorer,
    now: dt.datetime,
) -> Outcome:
    """Apply facts per account, score, and write accounts, history and predictions."""
    rows = await repo.lock_accounts(session=session, account_ids=per_account.keys(), now=now)
    outcome = Outcome()
    predictions: list[dict[str, Any]] = []
    settled: list[tuple[str, dt.date]] = []
    for account_id, row in rows.items():
        state = AccountState.from_json(row.state)
        for fact in per_account[account_id]:
            if isinstance(fact, f.Invoiced) and fact.invoice_id not in state.invoices:
                predicted = predict_payment(state, issue=fact.issue, due=fact.due)
                predictions.append(_prediction(account_id, fact, predicted, now))
            elif isinstance(fact, f.Settled):
                settled.append((fact.invoice_id, dt.date.fromordinal(fact.settled)))
            apply(state, fact)
        score_account(row, state, scorer=scorer, now=now, outcome=outcome)
    await repo.save_accounts(session=session, rows=outcome.account_rows)
    await repo.add_history(session=session, rows=outcome.history)
    await repo.add_predictions(session=session, rows=predictions)
    await repo.settle_predictions(session=session, settled=settled)
    return outcome


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
