"""Building the events a step publishes: what to say, to whom, with which charges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from pydantic_core import to_json

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
from dunning.domain.ids import uuid5
from dunning.domain.policy import ContactRules, Policy, Step
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
    to, fallbacks = _addressee(contact, channel)
    not_before, local_today = _window(now, tz, policy.body.contact_rules)
    return build(
        NotificationRequested,
        account_id=state.account_id,
        notification_id=uuid5(f"notification:{case_id}:{index}:{channel}"),
        case_id=case_id,
        step_key=step_key,
        channel=channel,
        fallback_channels=fallbacks if channel != "agency" else [],
        template_key=template_key,
        locale=account.locale,
        time_zone=tz,
        not_before=not_before,
        account_name=account.name or state.account_id,
        recipient=to,
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


# The contact as the event carries it and its fallback channels, by the contact's JSON and
# the channel: accounts share contacts' shapes far less than a sweep shares its clock, but
# validating a `Contact` costs three times what encoding the stored one for the key does.
_ADDRESSEES: dict[tuple[bytes, str], tuple[Contact, list[str]]] = {}


def _addressee(contact: dict[str, object], channel: str) -> tuple[Contact, list[str]]:
    """`Contact.model_validate(contact)` and the fallbacks it is reachable on (cached).

    The key is the contact's JSON: equal for equal dictionaries of JSON values (what a
    stored contact is) and different otherwise. The fallbacks list is shared by the events
    that carry it, as the `Contact` is: events are never changed once built.
    """
    key = (to_json(contact), channel)
    hit = _ADDRESSEES.get(key)
    if hit is None:
        if len(_ADDRESSEES) >= 4096:
            _ADDRESSEES.clear()
        fallbacks = [ch for ch in _FALLBACKS if ch != channel and reachable(contact, ch)]
        hit = _ADDRESSEES[key] = (Contact.model_validate(contact), fallbacks)
    return hit


# (now, zone, id of the contact rules) -> (the rules, send window start, local date of now)
_WINDOWS: dict[tuple[dt.datetime, str, int], tuple[ContactRules, dt.datetime, dt.date]] = {}


def _window(now: dt.datetime, tz: str, rules: ContactRules) -> tuple[dt.datetime, dt.date]:
    """`send_window(now, ...)` and today's date in its zone, once per clock, zone and rules."""
    key = (now, tz, id(rules))
    hit = _WINDOWS.get(key)
    if hit is None or hit[0] is not rules:
        if len(_WINDOWS) >= 1024:
            _WINDOWS.clear()
        not_before = send_window(now, time_zone=tz, rules=rules)
        hit = _WINDOWS[key] = (rules, not_before, now.astimezone(not_before.tzinfo).date())
    return hit[1], hit[2]


def pick_recipient(state: AccountState, *, role: str, channel: str) -> dict[str, object] | None:
    """The contact for the channel, or for the agency the first contact of any role."""
    contacts = state.account.contacts
    if channel == "agency":
        return recipient(contacts, role=role, channel="agency")
    return recipient(contacts, role=role, channel=channel)
