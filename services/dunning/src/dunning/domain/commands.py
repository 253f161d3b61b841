"""Commands from people (collectors, customers, operators) applied to one account's state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dunlin_events import DunningHoldChanged, Event, PromiseToPayRecorded, from_minor
from dunning.domain.balances import balances, paid_towards, settled
from dunning.domain.case import AuditEntry, current_case_id
from dunning.domain.state import AccountState, ContactEntry, HoldFact, PromiseFact

Outcome = tuple[list[Event], list[AuditEntry]]


class CommandRefused(Exception):
    """A business rule refuses the command."""


@dataclass(frozen=True)
class RecordPromise:
    """The customer promised to pay an amount (minor units) by a date."""

    promise_id: str
    amount: int
    promised_date: dt.date
    grace_days: int
    invoice_ids: tuple[str, ...]
    channel: str
    recorded_by: str


def record_promise(state: AccountState, cmd: RecordPromise, now: dt.datetime) -> Outcome:
    """Hold the case until the promised date plus grace."""
    b = balances(state)
    if b.outstanding == 0:
        raise CommandRefused("the account owes nothing: there is nothing to promise")
    if cmd.promised_date < now.date():
        raise CommandRefused("promised_date is in the past")
    unknown = sorted(set(cmd.invoice_ids) - state.invoices.keys())
    if unknown:
        raise CommandRefused(f"unknown invoice_ids: {', '.join(unknown)}")
    if cmd.invoice_ids and settled(b, list(cmd.invoice_ids)):
        raise CommandRefused("the promised invoices are paid: there is nothing to promise")
    case_id = current_case_id(state)
    state.promises[cmd.promise_id] = PromiseFact(
        amount=cmd.amount,
        promised_date=cmd.promised_date,
        grace_days=cmd.grace_days,
        invoice_ids=list(cmd.invoice_ids),
        channel=cmd.channel,
        recorded_by=cmd.recorded_by,
        recorded_at=now,
        paid_baseline=paid_towards(b, list(cmd.invoice_ids)),
    )
    state.contacts.append(
        ContactEntry(
            at=now,
            channel=_contact_channel(cmd.channel),
            status="promise to pay",
            note=f"promised {from_minor(cmd.amount, b.currency)} by {cmd.promised_date}",
        )
    )
    event = PromiseToPayRecorded(
        account_id=state.account_id,
        promise_id=cmd.promise_id,
        case_id=case_id,
        currency=b.currency,
        amount=from_minor(cmd.amount, b.currency),
        promised_date=cmd.promised_date,
        grace_days=cmd.grace_days,
        invoice_ids=list(cmd.invoice_ids),
        channel=cmd.channel,
        recorded_by=cmd.recorded_by,
        recorded_at=now,
    )
    return [event], [
        AuditEntry(
            "promise_recorded",
            cmd.recorded_by,
            None,
            now,
            case_id,
            detail={"promise_id": cmd.promise_id},
        )
    ]


def _contact_channel(channel: str) -> str:
    return channel if channel in ("phone", "email", "letter") else "email"


def place_hold(
    state: AccountState,
    *,
    hold_id: str,
    reason: str,
    until: dt.datetime | None,
    actor: str,
    now: dt.datetime,
) -> Outcome:
    """Stop escalation until lifted or until it expires."""
    if until is not None and until <= now:
        raise CommandRefused("until must be in the future")
    state.holds[hold_id] = HoldFact(reason=reason, actor=actor, placed_at=now, until=until)
    case_id = current_case_id(state)
    event = DunningHoldChanged(
        account_id=state.account_id,
        case_id=case_id,
        hold_id=hold_id,
        action="placed",
        reason=reason,
        until=until,
        actor=actor,
        at=now,
    )
    return [event], [
        AuditEntry("hold_placed", actor, reason, now, case_id, detail={"hold_id": hold_id})
    ]


def lift_hold(
    state: AccountState, *, hold_id: str, reason: str, actor: str, now: dt.datetime
) -> Outcome:
    """End a hold early: escalation resumes where it was."""
    hold = state.holds.get(hold_id)
    if hold is None:
        raise KeyError(hold_id)
    if hold.ended_at is not None:
        raise CommandRefused("the hold has already ended")
    hold.ended_at, hold.ended_by = now, actor
    case_id = current_case_id(state)
    event = DunningHoldChanged(
        account_id=state.account_id,
        case_id=case_id,
        hold_id=hold_id,
        action="lifted",
        reason=reason,
        until=hold.until,
        actor=actor,
        at=now,
    )
    return [event], [
        AuditEntry("hold_lifted", actor, reason, now, case_id, detail={"hold_id": hold_id})
    ]


def assign_policy(
    state: AccountState, *, policy_id: str | None, actor: str, reason: str, now: dt.datetime
) -> Outcome:
    """Assign a policy to the account directly (an open case keeps its pinned version)."""
    state.assigned_policy = policy_id
    return [], [
        AuditEntry(
            "policy_assigned",
            actor,
            reason,
            now,
            current_case_id(state),
            detail={"policy_id": policy_id},
        )
    ]


def escalate_now(state: AccountState, *, actor: str, reason: str, now: dt.datetime) -> Outcome:
    """A manual override: the next step becomes due immediately."""
    state.progress.escalate_at = now
    return [], [
        AuditEntry(
            "overridden", actor, reason, now, current_case_id(state), detail={"escalate": True}
        )
    ]


def task_outcome(
    state: AccountState,
    *,
    task_id: str,
    step_key: str,
    outcome: str,
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> Outcome:
    """Record a call's outcome in the contact history; wrong contacts and disputes are flagged."""
    state.contacts.append(
        ContactEntry(at=now, channel="phone", step_key=step_key, status=outcome, note=note)
    )
    return [], [
        AuditEntry(
            "task_completed",
            actor,
            outcome,
            now,
            current_case_id(state),
            step_key,
            {"task_id": task_id, "note": note},
        )
    ]
