"""The step recorder's shortcuts give what the plain computations give."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dunlin_events import Contact
from dunning.domain import messages
from dunning.domain.build import assign
from dunning.domain.contact import reachable, send_window
from dunning.domain.policy import ContactRules
from dunning.domain.state import Progress

ADA: dict[str, Any] = {
    "contact_id": "ap",
    "name": "Ada",
    "role": "accounts_payable",
    "email": "ap@x.example",
    "phone": "+4930123456",
}
VARIANTS: list[dict[str, Any]] = [
    ADA,
    {**ADA, "consent": {"sms": True}},
    {**ADA, "consent": {"sms": True, "email": False}},
    {**ADA, "consent": {"sms": 1}},
    {**ADA, "email": None},
    {**ADA, "postal_address": {"lines": ["Hauptstr. 1"], "city": "Berlin", "country": "DE"}},
    {**ADA, "name": "Ada "},
]


@pytest.mark.parametrize("channel", ["email", "sms", "letter", "agency"])
def test_addressees_are_what_validation_and_reachability_give_whatever_came_before(
    channel: str,
) -> None:
    messages._ADDRESSEES.clear()
    for _ in range(2):  # cold, then from the cache
        for contact in VARIANTS:
            to, fallbacks = messages._addressee(dict(contact), channel)
            assert to == Contact.model_validate(contact)
            assert fallbacks == [
                ch for ch in ("email", "letter") if ch != channel and reachable(contact, ch)
            ]


def test_the_addressee_cache_stays_bounded() -> None:
    messages._ADDRESSEES.clear()
    for i in range(5000):
        messages._addressee({**ADA, "contact_id": f"c{i}"}, "email")
    assert len(messages._ADDRESSEES) <= 4096


def test_send_windows_are_per_clock_zone_and_rules_object() -> None:
    now = dt.datetime(2025, 1, 11, 22, 30, tzinfo=dt.UTC)  # Saturday night
    weekdays, every_day = ContactRules(), ContactRules(business_days=[0, 1, 2, 3, 4, 5, 6])
    for rules in (weekdays, every_day, weekdays):
        for tz in ("UTC", "Europe/Berlin", "America/New_York"):
            for at in (now, now + dt.timedelta(hours=3)):
                not_before, today = messages._window(at, tz, rules)
                assert not_before == send_window(at, time_zone=tz, rules=rules)
                assert today == at.astimezone(not_before.tzinfo).date()


def test_assign_sets_fields_as_pydantic_does_and_refuses_unknown_ones_when_strict() -> None:
    # build.STRICT is on for every test (conftest).
    at = dt.datetime(2025, 1, 11, tzinfo=dt.UTC)
    fast, slow = Progress(), Progress()
    assign(fast, status="open", opened_at=at, paused=None)
    slow.status, slow.opened_at, slow.paused = "open", at, None
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump_json(exclude_defaults=True) == slow.model_dump_json(
        exclude_defaults=True
    )
    with pytest.raises(AttributeError):
        assign(fast, stauts="open")
