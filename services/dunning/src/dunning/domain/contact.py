"""Contact rules: who to address on which channel, and when a message may go out."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dunning.domain.policy import ContactRules

_CONSENT_AND_ADDRESS = {
    "email": ("email", "email"),
    "sms": ("sms", "phone"),
    "voice": ("phone", "phone"),
    "phone": ("phone", "phone"),
    "letter": ("letter", "postal_address"),
}
_ROLE_ORDER = {
    "accounts_payable": ("accounts_payable", "finance_decision_maker", "other"),
    "finance_decision_maker": ("finance_decision_maker", "accounts_payable", "other"),
}


def reachable(contact: dict[str, Any], channel: str) -> bool:
    """Whether the contact consented to the channel and has an address for it."""
    if channel == "agency":
        return True
    consent_key, address_key = _CONSENT_AND_ADDRESS[channel]
    consent = contact.get("consent") or {}
    default = consent_key in ("email", "letter")
    return bool(consent.get(consent_key, default)) and bool(contact.get(address_key))


def recipient(contacts: list[dict[str, Any]], *, role: str, channel: str) -> dict[str, Any] | None:
    """The contact a step addresses: the role asked for first, then the others, by consent."""
    for wanted in _ROLE_ORDER.get(role, (role,)):
        for contact in contacts:
            if contact.get("role") == wanted and reachable(contact, channel):
                return contact
    return None


def send_window(now: dt.datetime, *, time_zone: str, rules: ContactRules) -> dt.datetime:
    """The first instant at or after now inside business hours on a business day (UTC)."""
    return _send_window(
        now,
        time_zone,
        rules.business_start_hour,
        rules.business_end_hour,
        tuple(rules.business_days),
    )


@lru_cache(maxsize=1024)  # a sweep asks the same question for every case of a zone
def _send_window(
    now: dt.datetime,
    time_zone: str,
    start_hour: int,
    end_hour: int,
    business_days: tuple[int, ...],
) -> dt.datetime:
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    for _ in range(8):
        start = local.replace(hour=start_hour, minute=0, second=0, microsecond=0)
        end = (
            local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
            if end_hour == 24
            else local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
        )
        if local.weekday() in business_days and local < end:
            return max(local, start).astimezone(dt.UTC)
        next_day = (local + dt.timedelta(days=1)).date()
        local = dt.datetime.combine(next_day, dt.time(0), tzinfo=zone)
    return now


@lru_cache(maxsize=8192)  # due dates repeat across accounts
def local_midnight(day: dt.date, *, time_zone: str) -> dt.datetime:
    """Start of a calendar day in the account's zone, in UTC."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(time_zone)).astimezone(dt.UTC)
