"""Events in, domain facts out: the only place that knows the event contracts' shapes."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from dunlin_events import (
    AccountHandedToAgency,
    AccountOverdue,
    AccountRegistered,
    Allocation,
    DisputeResolved,
    Event,
    ExternalSignalReported,
    InstallmentMissed,
    InvoiceAdjusted,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceSettled,
    PaymentReceived,
    PaymentReversed,
    PromiseToPayBroken,
    PromiseToPayKept,
    to_minor,
)
from risk.domain import facts as f

_CLOSED = ("cancelled", "written_off")

# Events whose date is a UTC timestamp: the day it counts for is the day on the account's own
# calendar (the zone of its AccountRegistered), as in invoicing's and payments' date handling.
# The handler translates them when it applies them, with the zone the account's state has then.
LOCAL_DAY_EVENTS = (AccountOverdue, InvoiceDisputed, DisputeResolved, AccountHandedToAgency)


def _minor(amount: Decimal, currency: str) -> int:
    return to_minor(amount, currency)


def _allocations(allocations: Sequence[Allocation], currency: str) -> f.Allocations:
    return tuple((a.invoice_id, _minor(a.amount, currency)) for a in allocations)


@functools.lru_cache(maxsize=1024)
def _zone(time_zone: str) -> ZoneInfo:
    """The zone of an IANA name (cached: names are few, the lookup is not free)."""
    return ZoneInfo(time_zone)


def _day(moment: dt.datetime, time_zone: str) -> int:
    """The ordinal of the day a (UTC) timestamp falls on in the account's time zone."""
    if time_zone == "UTC":  # the common case and accounts not registered yet: as before
        return moment.date().toordinal()
    return moment.astimezone(_zone(time_zone)).date().toordinal()


def signal_fact(event: ExternalSignalReported) -> f.Signal:
    """The fact of an external signal or credit-terms request."""
    return f.Signal(
        event.signal_id,
        event.kind,
        event.severity,
        event.observed_on.toordinal(),
        event.requested_terms_days,
    )


def to_fact(event: Event, time_zone: str = "UTC") -> f.Fact | None:
    """The fact an event carries for risk, or None when risk does not use it.

    `time_zone` is the account's IANA zone: the timestamps of LOCAL_DAY_EVENTS count for the
    day they fall on there. It is "UTC" for an account not registered (yet) with risk.
    """
    match event:
        case AccountRegistered():
            limit = event.credit_limit
            return f.Registered(
                event.external_id,
                event.currency,
                _minor(limit, event.currency) if limit is not None else None,
                event.time_zone,
            )
        case InvoiceIssued():
            due = event.due_date or event.issue_date
            return f.Invoiced(
                event.invoice_id,
                _minor(event.total, event.currency),
                event.issue_date.toordinal(),
                due.toordinal(),
            )
        case InvoiceAdjusted():
            return f.Adjusted(
                event.invoice_id,
                _minor(event.total, event.currency),
                event.due_date.toordinal(),
                event.status in _CLOSED,
                event.effective_date.toordinal(),
            )
        case PaymentReceived():
            allocations = _allocations(event.allocations, event.currency)
            return f.Paid(event.payment_id, allocations, event.received_on.toordinal())
        case PaymentReversed():
            allocations = _allocations(event.allocations, event.currency)
            return f.Reversed(event.reversal_id, allocations, event.reversed_on.toordinal())
        case InvoiceSettled():
            return f.Settled(event.invoice_id, event.settled_on.toordinal(), event.days_late)
        case AccountOverdue():
            invoices = tuple(
                (i.invoice_id, i.due_date.toordinal(), _minor(i.balance, event.currency))
                for i in event.invoices
            )
            return f.Overdue(_day(event.as_of, time_zone), invoices)
        case InvoiceDisputed():
            return f.Disputed(event.dispute_id, _day(event.opened_at, time_zone))
        case DisputeResolved():
            return f.DisputeClosed(event.dispute_id, _day(event.resolved_at, time_zone))
        case PromiseToPayBroken():
            return f.PromiseBroken(event.promise_id, event.broken_on.toordinal())
        case PromiseToPayKept():
            return f.PromiseKept(event.promise_id, event.kept_on.toordinal())
        case InstallmentMissed():
            key = f"{event.plan_id}:{event.installment_number}"
            return f.InstallmentMissed(key, event.due_date.toordinal())
        case AccountHandedToAgency():
            return f.HandedToAgency(_day(event.handed_at, time_zone))
        case ExternalSignalReported():
            return signal_fact(event)
    return None
