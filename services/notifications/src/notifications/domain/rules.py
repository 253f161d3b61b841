"""The contact rules applied as the last line before a message leaves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dunlin_events import Contact, NotificationRequested
from dunlin_events.notifications import FailureReason

_CONSENT_OF = {
    "email": "email",
    "sms": "sms",
    "voice": "voice",  # automated calls have their own opt-in, not the phone consent
    "phone": "phone",
    "letter": "letter",
}


@dataclass(frozen=True)
class ContactPolicy:
    """Quiet hours (local, [start, end)), the channels they apply to, and a frequency cap."""

    quiet_start: int = 20
    quiet_end: int = 8
    quiet_channels: frozenset[str] = frozenset({"email", "sms", "voice"})
    max_per_account: int = 3
    window: dt.timedelta = dt.timedelta(hours=24)
    do_not_contact_tags: frozenset[str] = frozenset({"do_not_contact", "legal", "litigation"})


@dataclass(frozen=True)
class Send:
    """Go ahead."""


@dataclass(frozen=True)
class Defer:
    """Not now: try again at `until` (not_before, quiet hours, frequency cap)."""

    until: dt.datetime
    why: str


@dataclass(frozen=True)
class Refuse:
    """This channel may not be used; `fallback` says whether another channel may be tried."""

    reason: FailureReason
    detail: str
    fallback: bool


Decision = Send | Defer | Refuse


def has_address(request: NotificationRequested, channel: str) -> bool:
    """Whether the request carries what the channel needs to reach the recipient."""
    contact = request.recipient
    needs = {
        "email": contact.email,
        "sms": contact.phone,
        "voice": contact.phone,
        "letter": contact.postal_address,
        "agency": request.case_file,
    }
    return needs.get(channel) is not None


def consents(
    contact: Contact, channel: str, registered: Mapping[str, Mapping[str, bool]] | None
) -> bool:
    """Consent in the request and, when invoicing told us about the contact, there as well."""
    field = _CONSENT_OF.get(channel)
    if field is None:
        return True  # the agency hand-off is not a contact with the customer
    if not getattr(contact.consent, field):
        return False
    known = (registered or {}).get(contact.contact_id)
    return known is None or bool(known.get(field, True))


def quiet_until(now: dt.datetime, time_zone: str, policy: ContactPolicy) -> dt.datetime | None:
    """When the recipient's quiet hours end, or None when it is not quiet there now."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return None
    local = now.astimezone(ZoneInfo(time_zone))
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + dt.timedelta(days=1)
    wake = dt.datetime.combine(day, dt.time(end), tzinfo=ZoneInfo(time_zone))
    return wake.astimezone(dt.UTC)


def decide(
    *,
    request: NotificationRequested,
    channel: str,
    now: dt.datetime,
    policy: ContactPolicy,
    tags: Collection[str] = (),
    registered_consents: Mapping[str, Mapping[str, bool]] | None = None,
    sent_in_window: Sequence[dt.datetime] = (),
) -> Decision:
    """May this request go out on this channel now?

    `sent_in_window` are the times messages went to the account within the frequency window.
    """
    blocked = policy.do_not_contact_tags.intersection(tags)
    if blocked and channel != "agency":
        return Refuse("do_not_contact", f"account tagged {sorted(blocked)[0]}", fallback=False)
    if not consents(request.recipient, channel, registered_consents):
        return Refuse("no_consent", f"no consent for {channel}", fallback=True)
    if not has_address(request, channel):
        return Refuse("missing_address", f"the contact has no address for {channel}", True)
    if request.not_before is not None and request.not_before > now:
        return Defer(request.not_before, "not_before")
    if channel in policy.quiet_channels:
        wake = quiet_until(now, request.time_zone, policy)
        if wake is not None:
            return Defer(wake, "quiet_hours")
    if channel != "agency":
        wake = frequency_allows_at(sent_in_window, now, policy)
        if wake is not None:
            return Defer(wake, "frequency_limit")
    return Send()


def frequency_allows_at(
    sent: Sequence[dt.datetime], now: dt.datetime, policy: ContactPolicy
) -> dt.datetime | None:
    """When the cap allows the next message (None: now): once enough sends left the window."""
    recent = sorted(t for t in sent if t > now - policy.window)
    excess = len(recent) - policy.max_per_account
    if excess < 0:
        return None
    # After recent[excess] leaves the window, max_per_account - 1 remain in it.
    return max(recent[excess] + policy.window, now)
