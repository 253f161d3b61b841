"""The case engine: a pure function of an account's facts, its policy and the clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, NamedTuple
from zoneinfo import ZoneInfo

from dunlin_events import to_minor
from dunning.domain.balances import Balances, Line, balances, paid_towards, settled
from dunning.domain.build import new_tuple
from dunning.domain.contact import local_midnight
from dunning.domain.policy import Policy, Step
from dunning.domain.state import AccountState

STOP_TAGS = frozenset({"do_not_contact", "legal", "litigation"})
FINAL_REMINDER_KEY = "final_reminder"


class StepAction:
    """A step to record now: executed, or skipped with the reason.

    A plain class with an `__init__` of its own, compiled with this module: a frozen
    dataclass's generated `__init__` runs as plain Python and sets each of its six fields
    through `object.__setattr__` (1 us, two or more per swept case). Never changed once made.
    """

    def __init__(
        self,
        index: int,
        key: str,
        outcome: Literal["executed", "skipped"],
        step: Step | None,
        reason: str | None = None,
        lines: tuple[Line, ...] = (),
    ) -> None:
        self.index: Final = index
        self.key: Final = key
        self.outcome: Final = outcome
        self.step: Final = step
        self.reason: Final = reason
        self.lines: Final = lines


@dataclass(frozen=True, slots=True)
class PromiseOutcome:
    """A promise that was kept or broken at this evaluation."""

    promise_id: str
    outcome: Literal["kept", "broken"]
    paid: int


class Decision(NamedTuple):
    """What should happen now and when to look again.

    A named tuple, immutable like a frozen dataclass and made in half its time (whose
    `__init__` sets each of these eight fields through `object.__setattr__`), once per case.
    """

    balances: Balances
    actions: tuple[StepAction, ...] = ()
    promises: tuple[PromiseOutcome, ...] = ()
    expired_holds: tuple[str, ...] = ()
    close: Literal["paid", "credited"] | None = None
    pause: str | None = None
    next_action_at: dt.datetime | None = None
    wakeups: tuple[dt.datetime, ...] = ()


def promise_deadline(state: AccountState, promise_id: str) -> dt.datetime:
    """Midnight after the promised date plus grace, in the account's zone."""
    p = state.promises[promise_id]
    day = p.promised_date + dt.timedelta(days=p.grace_days + 1)
    return local_midnight(day, time_zone=state.account.time_zone)


def _promises(state: AccountState, b: Balances, now: dt.datetime) -> list[PromiseOutcome]:
    outcomes: list[PromiseOutcome] = []
    if not state.promises:
        return outcomes
    for pid, p in sorted(state.promises.items()):
        if p.status != "open":
            continue
        # Judged by what was paid since the promise on the promised invoices (on the account
        # when the promise names none): a payment of another invoice keeps no promise.
        paid = paid_towards(b, p.invoice_ids) - p.paid_baseline
        if paid >= p.amount or settled(b, p.invoice_ids):
            outcomes.append(PromiseOutcome(pid, "kept", max(paid, 0)))
        elif now >= promise_deadline(state, pid):
            outcomes.append(PromiseOutcome(pid, "broken", max(paid, 0)))
    return outcomes


def _pause(
    state: AccountState, now: dt.datetime, resolved: set[str], wakeups: list[dt.datetime]
) -> str | None:
    if not (state.account.tags or state.holds or state.plans or state.promises):
        return None
    stop = STOP_TAGS.intersection(state.account.tags)
    if stop:
        return f"tagged {sorted(stop)[0]}"
    reasons = []
    for hold in state.holds.values():
        if hold.ended_at is None and (hold.until is None or hold.until > now):
            reasons.append(f"on hold: {hold.reason}")
            if hold.until is not None:
                wakeups.append(hold.until)
    # A plan holds only its own invoices (their lines are not dunned, see balances); one
    # that names none holds the whole account.
    if any(plan.status == "active" and not plan.invoice_ids for plan in state.plans.values()):
        reasons.append("payment plan on track")
    for pid, p in state.promises.items():
        if p.status == "open" and pid not in resolved:
            reasons.append("promise to pay")
            wakeups.append(promise_deadline(state, pid))
    return reasons[0] if reasons else None


def days_overdue(due: dt.date, now: dt.datetime, time_zone: str) -> int:
    """Whole days past due on the account's calendar."""
    return (_local_date(now, time_zone) - due).days


@lru_cache(maxsize=1024)
def _local_date(now: dt.datetime, time_zone: str) -> dt.date:
    return now.astimezone(ZoneInfo(time_zone)).date()


def _unmet(
    step: Step, state: AccountState, b: Balances, policy: Policy, now: dt.datetime
) -> str | None:
    cond = step.conditions
    tags = set(state.account.tags)
    if cond.min_balance is not None and b.dunned < to_minor(cond.min_balance, b.currency):
        return f"dunned balance below {cond.min_balance}"
    if cond.risk_tiers is not None and (state.risk_tier or "medium") not in cond.risk_tiers:
        return f"risk tier {state.risk_tier or 'unknown'} not in {cond.risk_tiers}"
    if cond.tags_any is not None and not tags.intersection(cond.tags_any):
        return f"not tagged any of {cond.tags_any}"
    if cond.tags_none is not None and tags.intersection(cond.tags_none):
        return f"tagged one of {cond.tags_none}"
    if "agency" in step.channels:
        agency = policy.body.agency
        if b.dunned < to_minor(agency.min_balance, b.currency):
            return f"not eligible for agency: balance below {agency.min_balance}"
        if any(line.disputed > 0 for line in b.lines):
            return "not eligible for agency: open dispute"
    return None


def _agency_eligible_at(b: Balances, policy: Policy, tz: str) -> dt.datetime:
    """When the oldest dunned invoice reaches the agency's minimum age (local midnight)."""
    return _step_due(b.dunned_lines[0].due_date, policy.body.agency.min_age_days, tz)


def _concerned(b: Balances, offset: int, now: dt.datetime, tz: str) -> tuple[Line, ...]:
    lines = b.dunned_lines
    mine = tuple(line for line in lines if _step_due(line.due_date, offset, tz) <= now)
    return mine or lines[:1]


@lru_cache(maxsize=8192)  # due dates repeat across accounts
def _step_due(due: dt.date, offset: int, tz: str) -> dt.datetime:
    """Local midnight `offset` days after `due` (positional, a cheaper cache key)."""
    return local_midnight(due + dt.timedelta(days=offset), time_zone=tz)


def _ladder(
    state: AccountState, policy: Policy, b: Balances, now: dt.datetime, escalate: bool
) -> tuple[list[StepAction], dt.datetime | None]:
    progress, tz = state.progress, state.account.time_zone
    steps = policy.body.steps
    offsets = _offsets(policy, state.risk_tier)
    dues = _step_dues(b.dunned_lines[0].due_date, offsets, tz)

    gap = dt.timedelta(days=policy.body.contact_rules.min_days_between_contacts)
    actions: list[StepAction] = []
    nxt = progress.last_index + 1
    last_contact = progress.last_contact_at
    escalate_at = progress.escalate_at or (now if escalate else None)
    if progress.status == "idle":
        passed = [i for i in range(len(steps)) if dues[i] <= now]
        if passed and escalate_at is None:
            nxt = passed[-1]
            actions += [
                StepAction(
                    i,
                    steps[i].key,
                    "skipped",
                    steps[i],
                    "already past this step when the case opened",
                )
                for i in range(nxt)
            ]
    while nxt < len(steps):
        at = dues[nxt]
        if escalate_at is not None:
            at = min(at, escalate_at)
        if last_contact is not None:
            at = max(at, last_contact + gap)
        if at > now:
            return actions, at
        step = steps[nxt]
        unmet = _unmet(step, state, b, policy, now)
        if unmet is None and "agency" in step.channels:
            # A ladder compressed by risk, or escalated early, reaches the hand-off before the
            # agency takes the account: wait for its minimum age rather than skip the step.
            eligible_at = _agency_eligible_at(b, policy, tz)
            if eligible_at > now:
                return actions, eligible_at
        if unmet is not None:
            actions.append(StepAction(nxt, step.key, "skipped", step, unmet))
        else:
            lines = _concerned(b, offsets[nxt], now, tz)
            actions.append(StepAction(nxt, step.key, "executed", step, None, lines))
            if "agency" in step.channels:
                return actions, None
            last_contact, escalate_at = now, None
        nxt += 1
    final = policy.body.final_reminder
    if final is None or last_contact is None:
        return actions, None
    at = last_contact + dt.timedelta(days=final.every_days)
    if at > now:
        return actions, at
    index = len(steps) + progress.repeats
    actions.append(StepAction(index, FINAL_REMINDER_KEY, "executed", None, None, b.dunned_lines))
    return actions, now + dt.timedelta(days=final.every_days)


# Policy (by identity, the entry keeps it alive) and risk tier -> the steps' offsets.
_OFFSETS: dict[tuple[int, str | None], tuple[Policy, tuple[int, ...]]] = {}


def _offsets(policy: Policy, tier: str | None) -> tuple[int, ...]:
    """`policy.offsets(tier)`, computed once per policy object and tier."""
    key = (id(policy), tier)
    hit = _OFFSETS.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(_OFFSETS) >= 1024:
        _OFFSETS.clear()
    offsets = tuple(policy.offsets(tier))
    _OFFSETS[key] = (policy, offsets)
    return offsets


@lru_cache(maxsize=4096)  # accounts share due dates, ladders and zones
def _step_dues(anchor: dt.date, offsets: tuple[int, ...], tz: str) -> tuple[dt.datetime, ...]:
    """When each step falls due: local midnight `offset` days after the oldest due date."""
    return tuple(
        local_midnight(anchor + dt.timedelta(days=offset), time_zone=tz) for offset in offsets
    )


def _expired(state: AccountState, now: dt.datetime) -> tuple[str, ...]:
    return tuple(
        hid
        for hid, h in sorted(state.holds.items())
        if h.ended_at is None and h.until is not None and h.until <= now
    )


def evaluate(state: AccountState, policy: Policy, now: dt.datetime) -> Decision:
    """Decide what the account's case needs now; never mutates the state."""
    b = balances(state)
    progress = state.progress
    promises = _promises(state, b, now)
    outcomes = tuple(promises)
    expired = _expired(state, now) if state.holds else ()
    if progress.status == "handed":
        return Decision(b, (), outcomes, expired, pause="handed to agency")
    if progress.status == "open" and b.outstanding == 0:
        return Decision(b, (), outcomes, expired, close="paid")
    if not b.dunned_lines:
        if any(line.planned for line in b.lines):
            return Decision(b, (), outcomes, expired, pause="payment plan on track")
        return Decision(b, (), outcomes, expired, pause="disputed" if b.lines else None)
    wakeups: list[dt.datetime] = []
    resolved = {p.promise_id for p in promises}
    pause = _pause(state, now, resolved, wakeups)
    if pause is not None:
        at = min(wakeups, default=None)
        return Decision(b, (), outcomes, expired, pause=pause, next_action_at=at)
    broken = any(p.outcome == "broken" for p in promises)
    actions, at = _ladder(state, policy, b, now, broken)
    # The due path's Decision by `new_tuple`: every field in order, the defaults for close,
    # pause and wakeups.
    return new_tuple(Decision, (b, tuple(actions), outcomes, expired, None, None, at, ()))
