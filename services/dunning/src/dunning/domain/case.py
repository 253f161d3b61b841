"""Carrying out a decision: update the case progress and produce its events, audit and tasks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

from dunlin_events import (
    AccountHandedToAgency,
    CollectorTaskCreated,
    DunningCaseClosed,
    DunningHoldChanged,
    DunningStepExecuted,
    Event,
    PromiseToPayBroken,
    PromiseToPayKept,
    from_minor,
)
from dunning.domain import messages
from dunning.domain.build import assign, build, new_tuple
from dunning.domain.contact import send_window
from dunning.domain.engine import Decision, StepAction, days_overdue, evaluate
from dunning.domain.ids import case_id as case_id_of
from dunning.domain.ids import uuid5
from dunning.domain.policy import Policy
from dunning.domain.state import AccountState, ContactEntry, Progress, StepRecord

SYSTEM = "system"
RISK_WEIGHT = {"low": 1.0, "medium": 1.5, "high": 2.5, "critical": 4.0}


# The detail of an entry that has none: read-only by its type, so one object serves them all.
_NO_DETAIL: Mapping[str, Any] = {}


class AuditEntry(NamedTuple):
    """An immutable record of something the case did or had done to it.

    A named tuple: a swept case makes three, and a frozen dataclass's `__init__` sets each
    of its seven fields through `object.__setattr__` (1.3 against 0.7 us per entry).
    """

    action: str
    actor: str
    reason: str | None
    at: dt.datetime
    case_id: str | None = None
    step_key: str | None = None
    detail: Mapping[str, Any] = _NO_DETAIL


def _audit(
    action: str,
    reason: str | None,
    at: dt.datetime,
    case_id: str | None,
    step_key: str | None = None,
    detail: Mapping[str, Any] = _NO_DETAIL,
) -> AuditEntry:
    """`AuditEntry(action, SYSTEM, ...)`, made by `new_tuple` (compiled, unlike the named
    tuple's own `__new__`)."""
    return new_tuple(AuditEntry, (action, SYSTEM, reason, at, case_id, step_key, detail))


class Effects:
    """What one advance produced, for the repository to persist in one transaction.

    A plain class with an `__init__` of its own, compiled with this module (a dataclass's
    generated `__init__` runs as plain Python, once per swept case).
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.audit: list[AuditEntry] = []
        self.tasks: list[CollectorTaskCreated] = []
        self.closed_case: str | None = None
        self.next_action_at: dt.datetime | None = None
        # Index in `events` -> the traceparent of the step that produced it (see StepTrace).
        self.traced: dict[int, str | None] = {}

    def traceparents(self, default: str | None) -> list[str | None]:
        """One traceparent per event: its step's, else `default`."""
        if not self.traced:
            return [default] * len(self.events)
        return [self.traced.get(i, default) for i in range(len(self.events))]


class StepTrace(NamedTuple):
    """What a step span needs: ids only (never names or addresses) and the parent context.

    A named tuple: made twice per swept case, in a third of a frozen dataclass's time.
    """

    account_id: str
    case_id: str
    step_key: str
    channels: tuple[str, ...]
    invoice_ids: tuple[str, ...]
    parent: str | None  # the traceparent of the oldest invoice concerned


# Opens a span around one step and yields its traceparent (None when there is none).
StepTracer = Callable[[StepTrace], AbstractContextManager[str | None]]


class Untraced:
    """A `StepTracer` for a tracer that records nothing: no span, only the traceparent.

    `child(parent)` is the traceparent the step's span would have (its parent being the stored
    traceparent of the oldest invoice the step concerns); `advance` then neither builds a
    `StepTrace` nor opens a context per step. Called as a `StepTracer`, it yields the same.
    """

    __slots__ = ("child",)

    def __init__(self, child: Callable[[str | None], str | None]) -> None:
        self.child = child

    def __call__(self, step: StepTrace) -> AbstractContextManager[str | None]:
        return nullcontext(self.child(step.parent))


def current_case_id(state: AccountState) -> str:
    """The id of the open case, or of the case that opens next."""
    return state.progress.case_id or case_id_of(state.account_id, state.progress.cycle)


def advance(
    state: AccountState,
    policy: Policy,
    now: dt.datetime,
    *,
    execute: bool,
    trace_step: StepTracer | None = None,
) -> Effects:
    """Evaluate and apply: closes, promise outcomes, expired holds and (if execute) due steps.

    With `trace_step`, each executed or skipped step runs inside the context it returns, and
    the step's events carry the traceparent it yields.
    """
    decision = evaluate(state, policy, now)
    effects = Effects()
    case_id = current_case_id(state)
    _holds(state, decision, case_id, now, effects)
    _promises(state, decision, case_id, now, effects)
    if decision.close is not None:
        _close(state, decision.close, now, effects)
        return effects
    _pause_audit(state, decision.pause, case_id, now, effects)
    if decision.actions and not execute:
        effects.next_action_at = now
        return effects
    untraced = trace_step if type(trace_step) is Untraced else None
    for action in decision.actions:
        if untraced is not None:
            traceparent = untraced.child(_parent(state, decision, action))
            start = len(effects.events)
            _record(state, policy, decision, action, now, effects)
            for i in range(start, len(effects.events)):
                effects.traced[i] = traceparent
        elif trace_step is None:
            _record(state, policy, decision, action, now, effects)
        else:
            _traced_record(state, policy, decision, action, now, effects, trace_step)
    effects.next_action_at = None if state.progress.status == "handed" else decision.next_action_at
    return effects


def _holds(state: AccountState, d: Decision, case_id: str, now: dt.datetime, fx: Effects) -> None:
    for hold_id in d.expired_holds:
        hold = state.holds[hold_id]
        hold.ended_at, hold.ended_by = now, SYSTEM
        fx.events.append(
            DunningHoldChanged(
                account_id=state.account_id,
                case_id=case_id,
                hold_id=hold_id,
                action="expired",
                reason=hold.reason,
                until=hold.until,
                actor=SYSTEM,
                at=now,
            )
        )
        fx.audit.append(_audit("hold_expired", hold.reason, now, case_id))


def _promises(
    state: AccountState, d: Decision, case_id: str, now: dt.datetime, fx: Effects
) -> None:
    currency = d.balances.currency
    for outcome in d.promises:
        p = state.promises[outcome.promise_id]
        p.status, p.paid_amount, p.resolved_on = outcome.outcome, outcome.paid, now.date()
        common: dict[str, Any] = {
            "account_id": state.account_id,
            "promise_id": outcome.promise_id,
            "case_id": case_id,
            "currency": currency,
            "amount": from_minor(p.amount, currency),
            "paid_amount": from_minor(outcome.paid, currency),
            "promised_date": p.promised_date,
        }
        if outcome.outcome == "kept":
            fx.events.append(PromiseToPayKept(**common, kept_on=now.date()))
        else:
            fx.events.append(PromiseToPayBroken(**common, broken_on=now.date()))
            state.progress.escalate_at = now
        fx.audit.append(_audit(f"promise_{outcome.outcome}", None, now, case_id))


def _close(state: AccountState, reason: str, now: dt.datetime, fx: Effects) -> None:
    progress = state.progress
    last = next((s.key for s in reversed(progress.steps) if s.outcome == "executed"), None)
    assert progress.case_id is not None
    fx.events.append(
        build(
            DunningCaseClosed,
            account_id=state.account_id,
            case_id=progress.case_id,
            reason=reason,
            last_step_key=last,
            closed_at=now,
        )
    )
    fx.audit.append(_audit("case_closed", reason, now, progress.case_id))
    fx.closed_case = progress.case_id
    _reset(state, progress.case_id, reason, now)


def _reset(state: AccountState, case_id: str, reason: str, now: dt.datetime) -> None:
    old = state.progress
    state.progress = Progress(
        cycle=old.cycle + 1,
        status="handed" if reason == "handed_to_agency" else "idle",
        closed=[
            *old.closed,
            {
                "case_id": case_id,
                "reason": reason,
                "at": now.isoformat(),
                "policy_id": old.policy_id,
                "policy_version": old.policy_version,
                "steps": [s.model_dump(mode="json") for s in old.steps],
            },
        ],
        last_contact_at=old.last_contact_at,
    )


def _pause_audit(
    state: AccountState, pause: str | None, case_id: str, now: dt.datetime, fx: Effects
) -> None:
    progress = state.progress
    if pause == progress.paused or progress.status != "open":
        assign(progress, paused=pause if progress.status == "open" else None)
        return
    action = "paused" if pause is not None else "resumed"
    fx.audit.append(_audit(action, pause or progress.paused, now, case_id))
    assign(progress, paused=pause)


def _open(state: AccountState, policy: Policy, now: dt.datetime, fx: Effects) -> str:
    progress = state.progress
    if progress.status == "idle":
        assign(
            progress,
            status="open",
            opened_at=now,
            case_id=case_id_of(state.account_id, progress.cycle),
            policy_id=policy.policy_id,
            policy_version=policy.version,
        )
        fx.audit.append(
            _audit(
                "case_opened",
                None,
                now,
                progress.case_id,
                None,
                {"policy_id": policy.policy_id, "policy_version": policy.version},
            )
        )
    assert progress.case_id is not None
    return progress.case_id


def _parent(state: AccountState, d: Decision, action: StepAction) -> str | None:
    """The stored traceparent of the oldest invoice the step concerns that has one."""
    invoices = state.invoices
    for line in action.lines or d.balances.dunned_lines[:1]:
        parent = invoices[line.invoice_id].traceparent
        if parent is not None:
            return parent
    return None


def _traced_record(
    state: AccountState,
    policy: Policy,
    d: Decision,
    action: StepAction,
    now: dt.datetime,
    fx: Effects,
    trace_step: StepTracer,
) -> None:
    lines = action.lines or d.balances.dunned_lines[:1]
    parent = _parent(state, d, action)
    step, final = action.step, policy.body.final_reminder
    channels = step.channels if step else (final.channels if final else [])
    trace = StepTrace(
        state.account_id,
        current_case_id(state),
        action.key,
        tuple(channels),
        tuple([line.invoice_id for line in lines]),
        parent,
    )
    with trace_step(trace) as traceparent:
        start = len(fx.events)
        _record(state, policy, d, action, now, fx)
        for i in range(start, len(fx.events)):
            fx.traced[i] = traceparent


def _record(
    state: AccountState,
    policy: Policy,
    d: Decision,
    action: StepAction,
    now: dt.datetime,
    fx: Effects,
) -> None:
    case_id = _open(state, policy, now, fx)
    progress, currency, step = state.progress, d.balances.currency, action.step
    executed = action.outcome == "executed"
    # A skipped step concerns no line (the ladder gives it none), has no charges and no channel.
    invoices = (
        messages.dunned_invoices(
            action.lines, currency=currency, now=now, tz=state.account.time_zone
        )
        if action.lines
        else []
    )
    lines = messages.charge_lines(state, policy, step, action.lines, now) if executed else []
    extra = messages.charges(lines, currency) if lines else []
    channels = (
        (list(step.channels) if step else list(policy.body.final_reminder.channels))  # type: ignore[union-attr]
        if executed
        else []
    )
    fx.events.append(
        build(
            DunningStepExecuted,
            account_id=state.account_id,
            case_id=case_id,
            policy_id=policy.policy_id,
            policy_version=policy.version,
            step_key=action.key,
            step_index=action.index,
            outcome=action.outcome,
            reason=action.reason,
            channels=channels,
            currency=currency,
            dunned_balance=sum((i.balance for i in invoices), messages.zero(currency)),
            invoices=invoices,
            charges=extra,
            executed_at=now,
        )
    )
    fee = (
        sum(c.amount for c in lines if c.kind == "fee" and c.description == f"Fee ({action.key})")
        if lines
        else 0
    )
    progress.steps.append(
        build(
            StepRecord,
            index=action.index,
            key=action.key,
            outcome=action.outcome,
            at=now,
            reason=action.reason,
            fee=fee,
        )
    )
    fx.audit.append(
        _audit(
            f"step_{action.outcome}",
            action.reason,
            now,
            case_id,
            action.key,
            {"index": action.index, "invoices": [i.invoice_id for i in invoices]},
        )
    )
    if not executed:
        return
    if step is None:
        progress.repeats += 1
    assign(progress, last_contact_at=now, escalate_at=None)
    for line in action.lines:
        progress.invoice_steps[line.invoice_id] = action.index
    role = step.contact_role if step else policy.body.final_reminder.contact_role  # type: ignore[union-attr]
    template = step.template_key if step else policy.body.final_reminder.template_key  # type: ignore[union-attr]
    for channel in channels:
        if channel == "phone":
            _task(state, policy, d, action, case_id, role, now, fx)
        elif channel == "agency":
            _hand_off(state, policy, action, case_id, invoices, extra, role, now, fx)
        else:
            _message(
                state, policy, action, case_id, channel, role, template, invoices, extra, now, fx
            )


def _message(
    state: AccountState,
    policy: Policy,
    action: StepAction,
    case_id: str,
    channel: str,
    role: str,
    template: str,
    invoices: list[Any],
    extra: list[Any],
    now: dt.datetime,
    fx: Effects,
) -> None:
    contact = messages.pick_recipient(state, role=role, channel=channel)
    if contact is None:
        state.contacts.append(
            build(
                ContactEntry,
                at=now,
                channel=channel,
                step_key=action.key,
                status="failed",
                note=f"no contact with consent and address for {channel}",
                notification_id=None,
            )
        )
        return
    event = messages.notification(
        state,
        policy,
        case_id=case_id,
        index=action.index,
        step_key=action.key,
        template_key=template,
        channel=channel,
        contact=contact,
        invoices=invoices,
        extra=extra,
        pay_within_days=action.step.pay_within_days if action.step else None,
        now=now,
    )
    fx.events.append(event)
    state.contacts.append(
        build(
            ContactEntry,
            at=now,
            channel=channel,
            step_key=action.key,
            status="requested",
            note=None,
            notification_id=event.notification_id,
        )
    )


def _task(
    state: AccountState,
    policy: Policy,
    d: Decision,
    action: StepAction,
    case_id: str,
    role: str,
    now: dt.datetime,
    fx: Effects,
) -> None:
    tz, currency = state.account.time_zone, d.balances.currency
    contact = messages.pick_recipient(state, role=role, channel="phone")
    dunned = sum(line.dunned for line in action.lines)
    age = max(days_overdue(line.due_date, now, tz) for line in action.lines)
    weight = RISK_WEIGHT.get(state.risk_tier or "medium", 1.5)
    task = build(
        CollectorTaskCreated,
        account_id=state.account_id,
        task_id=uuid5(f"task:{case_id}:{action.index}"),
        case_id=case_id,
        step_key=action.key,
        contact_id=str(contact["contact_id"]) if contact else None,
        priority=round(float(from_minor(dunned, currency)) * weight * (1 + max(age, 0) / 30), 2),
        currency=currency,
        dunned_balance=from_minor(dunned, currency),
        invoice_ids=[line.invoice_id for line in action.lines],
        due_at=send_window(now, time_zone=tz, rules=policy.body.contact_rules),
        assignee=None,
    )
    fx.events.append(task)
    fx.tasks.append(task)
    state.contacts.append(
        build(
            ContactEntry,
            at=now,
            channel="phone",
            step_key=action.key,
            status="task created",
            note=None,
            notification_id=None,
        )
    )


def _hand_off(
    state: AccountState,
    policy: Policy,
    action: StepAction,
    case_id: str,
    invoices: list[Any],
    extra: list[Any],
    role: str,
    now: dt.datetime,
    fx: Effects,
) -> None:
    currency = state.account.currency or "EUR"
    case = messages.case_file(state, invoices, extra, currency)
    contact = messages.pick_recipient(state, role=role, channel="agency") or {
        "contact_id": "agency",
        "name": policy.body.agency.name,
        "role": "other",
    }
    fx.events.append(
        build(
            AccountHandedToAgency,
            account_id=state.account_id,
            handoff_id=uuid5(f"handoff:{case_id}"),
            case_id=case_id,
            agency=policy.body.agency.name,
            currency=currency,
            total_due=case.total_due,
            case_file=case,
            handed_at=now,
        )
    )
    fx.events.append(
        messages.notification(
            state,
            policy,
            case_id=case_id,
            index=action.index,
            step_key=action.key,
            template_key=action.key,
            channel="agency",
            contact=contact,
            invoices=invoices,
            extra=extra,
            pay_within_days=None,
            now=now,
            case=case,
        )
    )
    state.contacts.append(
        build(
            ContactEntry,
            at=now,
            channel="agency",
            step_key=action.key,
            status="handed over",
            note=None,
            notification_id=None,
        )
    )
    fx.audit.append(_audit("handed_to_agency", policy.body.agency.name, now, case_id))
    _close_handed(state, action, now, fx)


def _close_handed(state: AccountState, action: StepAction, now: dt.datetime, fx: Effects) -> None:
    progress = state.progress
    assert progress.case_id is not None
    fx.events.append(
        build(
            DunningCaseClosed,
            account_id=state.account_id,
            case_id=progress.case_id,
            reason="handed_to_agency",
            last_step_key=action.key,
            closed_at=now,
        )
    )
    fx.closed_case = progress.case_id
    _reset(state, progress.case_id, "handed_to_agency", now)
