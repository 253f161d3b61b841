"""Applying consumed events to an account's facts, in any order and any number of times."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from dunlin_events import (
    AccountRegistered,
    DisputeResolved,
    Event,
    InstallmentMissed,
    InvoiceAdjusted,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceSettled,
    NotificationFailed,
    PaymentAllocated,
    PaymentPlanAgreed,
    PaymentPlanCancelled,
    PaymentPlanCompleted,
    PaymentReceived,
    PaymentReversed,
    RiskAssessed,
    to_minor,
)
from dunning.domain.state import (
    AccountState,
    AllocationFact,
    ContactEntry,
    DisputeFact,
    InvoiceFacts,
    PlanFact,
    PlanStatus,
)

_PLAN_RANK: dict[PlanStatus, int] = {"active": 0, "off_track": 1, "completed": 2, "cancelled": 2}


def _newer(current: dt.datetime | None, candidate: dt.datetime) -> bool:
    return current is None or candidate >= current


def apply(
    state: AccountState,
    event: Event,
    *,
    event_id: str,
    at: dt.datetime,
    traceparent: str | None = None,
) -> None:
    """Fold one event into the state; `at` is the event's time, `event_id` its CloudEvents id.

    The traceparent of an invoice's first InvoiceIssued is kept, so that the steps dunning
    later takes for that invoice continue the invoice's trace.
    """
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        handler(state, event, event_id, at)
    if traceparent and isinstance(event, InvoiceIssued):
        inv = state.invoices[event.invoice_id]
        if inv.traceparent is None:
            inv.traceparent = traceparent


def _account_registered(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, AccountRegistered)
    if not _newer(state.account.as_of, at):
        return
    info = state.account
    info.name, info.legal_name, info.currency = e.name, e.legal_name, e.currency
    info.time_zone, info.locale, info.tags = e.time_zone, e.locale, list(e.tags)
    info.policy_name = e.dunning_policy
    info.contacts = [c.model_dump(mode="json") for c in e.contacts]
    info.as_of = at


def _invoice(state: AccountState, invoice_id: str) -> InvoiceFacts:
    return state.invoices.setdefault(invoice_id, InvoiceFacts())


def _invoice_issued(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, InvoiceIssued)
    inv = _invoice(state, e.invoice_id)
    inv.number, inv.currency, inv.issued_at = e.invoice_number, e.currency, at
    if inv.adjusted_at is None:  # an adjustment that came first already knows better
        inv.total = to_minor(e.total, e.currency)
        inv.due_date = e.due_date


def _invoice_adjusted(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, InvoiceAdjusted)
    inv = _invoice(state, e.invoice_id)
    inv.currency = e.currency
    if _newer(inv.adjusted_at, at):
        inv.total, inv.due_date, inv.status = to_minor(e.total, e.currency), e.due_date, e.status
        inv.adjusted_at = at


def _invoice_settled(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, InvoiceSettled)
    inv = _invoice(state, e.invoice_id)
    inv.number, inv.currency = inv.number or e.invoice_number, e.currency
    inv.settled_at = at
    if inv.due_date is None:
        inv.due_date, inv.total = e.due_date, to_minor(e.total, e.currency)


def _allocate(
    state: AccountState, key: str, payment_id: str, on: dt.date, items: list[tuple[str, int]]
) -> None:
    for i, (invoice_id, amount) in enumerate(items):
        state.allocations[f"{key}:{i}"] = AllocationFact(
            payment_id=payment_id, invoice_id=invoice_id, amount=amount, on=on
        )


def _payment_received(state: AccountState, e: Event, event_id: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentReceived)
    items = [(a.invoice_id, to_minor(a.amount, e.currency)) for a in e.allocations]
    _allocate(state, f"pay:{e.payment_id}", e.payment_id, e.received_on, items)


def _payment_allocated(state: AccountState, e: Event, event_id: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentAllocated)
    items = [(a.invoice_id, to_minor(a.amount, e.currency)) for a in e.allocations]
    _allocate(state, f"alloc:{event_id}", e.payment_id, at.date(), items)


def _payment_reversed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentReversed)
    state.reversed_payments[e.payment_id] = e.reversed_on


def _disputed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, InvoiceDisputed)
    dispute = state.disputes.setdefault(e.dispute_id, DisputeFact(invoice_id=e.invoice_id))
    dispute.amount, dispute.reason = to_minor(e.amount, e.currency), e.reason
    dispute.opened_at = e.opened_at


def _resolved(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, DisputeResolved)
    dispute = state.disputes.setdefault(e.dispute_id, DisputeFact(invoice_id=e.invoice_id))
    dispute.resolved_at, dispute.outcome = e.resolved_at, e.outcome


def _plan(state: AccountState, plan_id: str, status: PlanStatus, at: dt.datetime) -> PlanFact:
    plan = state.plans.setdefault(plan_id, PlanFact(status=status, at=at))
    if _PLAN_RANK[status] > _PLAN_RANK[plan.status]:
        plan.status, plan.at = status, at
    return plan


def _plan_agreed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentPlanAgreed)
    _plan(state, e.plan_id, "active", e.agreed_at).invoice_ids = list(e.invoice_ids)


def _plan_missed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, InstallmentMissed)
    _plan(state, e.plan_id, "off_track", at)


def _plan_completed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentPlanCompleted)
    _plan(state, e.plan_id, "completed", at)


def _plan_cancelled(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, PaymentPlanCancelled)
    _plan(state, e.plan_id, "cancelled", e.cancelled_at)


def _risk(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, RiskAssessed)
    if _newer(state.risk_at, e.assessed_at):
        state.risk_tier, state.risk_at = e.tier, e.assessed_at


def _notification_failed(state: AccountState, e: Event, _: str, at: dt.datetime) -> None:
    assert isinstance(e, NotificationFailed)
    status = "failed" if e.fallback_channel is None else f"failed, trying {e.fallback_channel}"
    entry = ContactEntry(
        at=e.failed_at,
        channel=e.channel,
        step_key=e.step_key,
        status=status,
        note=f"{e.reason}: {e.detail}" if e.detail else e.reason,
        notification_id=e.notification_id,
    )
    if entry not in state.contacts:
        state.contacts.append(entry)
        state.contacts.sort(key=lambda c: c.at)


_Handler = Callable[[AccountState, Event, str, dt.datetime], None]

_HANDLERS: dict[type[Event], _Handler] = {
    AccountRegistered: _account_registered,
    InvoiceIssued: _invoice_issued,
    InvoiceAdjusted: _invoice_adjusted,
    InvoiceSettled: _invoice_settled,
    PaymentReceived: _payment_received,
    PaymentAllocated: _payment_allocated,
    PaymentReversed: _payment_reversed,
    InvoiceDisputed: _disputed,
    DisputeResolved: _resolved,
    PaymentPlanAgreed: _plan_agreed,
    InstallmentMissed: _plan_missed,
    PaymentPlanCompleted: _plan_completed,
    PaymentPlanCancelled: _plan_cancelled,
    RiskAssessed: _risk,
    NotificationFailed: _notification_failed,
}

CONSUMED_EVENTS: tuple[type[Event], ...] = tuple(_HANDLERS)
