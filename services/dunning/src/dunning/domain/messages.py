"""Building the events a step publishes: what to say, to whom, with which charges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from dunlin_events import (
    CaseFile,
    Charge,
    Contact,
    ContactRecord,
    DunnedInvoice,
    NotificationRequested,
    from_minor,
)
from dunlin_events.dunning import DisputeSummary, PromiseSummary
from dunning.domain.balances import Line
from dunning.domain.build import build
from dunning.domain.charges import ChargeLine, fee_amount, interest
from dunning.domain.contact import reachable, recipient, send_window
from dunning.domain.engine import days_overdue
from dunning.domain.ids import stable_id
from dunning.domain.policy import Policy, Step
from dunning.domain.state import AccountState

_FALLBACKS = ("email", "letter")


@lru_cache(maxsize=64)
def zero(currency: str) -> Decimal:
    """`from_minor(0, currency)`, the start of every sum of amounts (Decimals are immutable)."""
    return from_minor(0, currency)


def dunned_invoices(
    lines: tuple[Line, ...], *, currency: str, now: dt.datetime, tz: str
) -> list[DunnedInvoice]:
    """The invoices a step concerns as the event lists them."""
    return [
        build(
            DunnedInvoice,
            invoice_id=line.invoice_id,
            invoice_number=line.number or line.invoice_id,
            due_date=line.due_date,
            balance=from_minor(line.dunned, currency),
            days_overdue=days_overdue(line.due_date, now, tz),
        )
        for line in lines
    ]


def charge_lines(
    state: AccountState,
    policy: Policy,
    step: Step | None,
    lines: tuple[Line, ...],
    now: dt.datetime,
) -> list[ChargeLine]:
    """Fees of the steps so far (this one included) and statutory interest to date."""
    currency, tz = state.account.currency or "EUR", state.account.time_zone
    dunned = sum(line.dunned for line in lines)
    result = [
        ChargeLine("fee", f"Fee ({record.key})", record.fee)
        for record in state.progress.steps
        if record.fee > 0
    ]
    if step is not None and step.fee is not None:
        amount = fee_amount(step.fee, balance=dunned, currency=currency)
        if amount > 0:
            result.append(ChargeLine("fee", f"Fee ({step.key})", amount))
    if policy.body.interest is not None:
        for line in lines:
            result += interest(
                policy.body.interest,
                invoice_id=line.invoice_id,
                balance=line.dunned,
                days_overdue=days_overdue(line.due_date, now, tz),
                currency=currency,
            )
    return result


def charges(lines: list[ChargeLine], currency: str) -> list[Charge]:
    """Charge lines as the events carry them."""
    return [
        build(
            Charge,
            kind=c.kind,
            description=c.description,
            amount=from_minor(c.amount, currency),
            invoice_id=c.invoice_id,
        )
        for c in lines
    ]


def case_file(
    state: AccountState, invoices: list[DunnedInvoice], extra: list[Charge], currency: str
) -> CaseFile:
    """Everything an agency needs: invoices, contacts, the contact history, promises, disputes."""
    total = sum((i.balance for i in invoices), zero(currency)) + sum(
        (c.amount for c in extra), zero(currency)
    )
    return build(
        CaseFile,
        account_name=state.account.name or state.account_id,
        legal_name=state.account.legal_name,
        currency=currency,
        total_due=total,
        invoices=invoices,
        charges=extra,
        contacts=[Contact.model_validate(c) for c in state.account.contacts],
        contact_history=[
            ContactRecord(
                at=c.at, channel=c.channel, step_key=c.step_key, status=c.status, note=c.note
            )
            for c in state.contacts
        ],
        promises=[
            PromiseSummary(
                promise_id=pid,
                amount=from_minor(p.amount, currency),
                promised_date=p.promised_date,
                status=p.status,
                recorded_by=p.recorded_by,
            )
            for pid, p in state.promises.items()
        ],
        disputes=[
            DisputeSummary(
                dispute_id=did,
                invoice_id=d.invoice_id,
                amount=from_minor(d.amount, currency),
                reason=d.reason,
                status="open" if d.resolved_at is None else "resolved",
            )
            for did, d in state.disputes.items()
            if d.amount > 0
        ],
    )


def notification(
    state: AccountState,
    policy: Policy,
    *,
    case_id: str,
    index: int,
    step_key: str,
    template_key: str,
    channel: str,
    contact: dict[str, object],
    invoices: list[DunnedInvoice],
    extra: list[Charge],
    pay_within_days: int | None,
    now: dt.datetime,
    case: CaseFile | None = None,
) -> NotificationRequested:
    """One message for one account, step and channel; its id is stable across re-runs."""
    account, currency = state.account, state.account.currency or "EUR"
    dunned = sum((i.balance for i in invoices), zero(currency))
    total = dunned + sum((c.amount for c in extra), zero(currency))
    tz = account.time_zone
    fallbacks = [ch for ch in _FALLBACKS if ch != channel and reachable(contact, ch)]
    not_before = send_window(now, time_zone=tz, rules=policy.body.contact_rules)
    local_today = now.astimezone(not_before.tzinfo).date()
    return build(
        NotificationRequested,
        account_id=state.account_id,
        notification_id=stable_id("notification", case_id, index, channel),
        case_id=case_id,
        step_key=step_key,
        channel=channel,
        fallback_channels=fallbacks if channel != "agency" else [],
        template_key=template_key,
        locale=account.locale,
        time_zone=tz,
        not_before=not_before,
        account_name=account.name or state.account_id,
        recipient=Contact.model_validate(contact),
        currency=currency,
        dunned_balance=dunned,
        total_due=total,
        invoices=invoices,
        charges=extra,
        pay_by=local_today + dt.timedelta(days=pay_within_days)
        if pay_within_days is not None
        else None,
        payment_link=None,
        reply_to=None,
        case_file=case,
        requested_at=now,
    )


def pick_recipient(state: AccountState, *, role: str, channel: str) -> dict[str, object] | None:
    """The contact for the channel, or for the agency the first contact of any role."""
    contacts = state.account.contacts
    if channel == "agency":
        return recipient(contacts, role=role, channel="agency")
    return recipient(contacts, role=role, channel=channel)
