"""The contact rules and the retry/fallback decisions, without a database."""

from __future__ import annotations

import datetime as dt

from dunlin_events.testing import notification_requested
from notifications.config import NotificationsSettings
from notifications.domain.delivery import Fallback, GiveUp, Retry, after_transient_failure, backoff
from notifications.domain.rules import ContactPolicy, Defer, Refuse, Send, decide, quiet_until
from notifications.handlers.worker import policy_of

NOON_BERLIN = dt.datetime(2026, 11, 10, 11, 0, tzinfo=dt.UTC)
POLICY = ContactPolicy()


def test_a_consented_contact_with_an_address_is_sent_to() -> None:
    assert (
        decide(request=notification_requested(), channel="email", now=NOON_BERLIN, policy=POLICY)
        == Send()
    )


def test_do_not_contact_refuses_every_channel_without_fallback() -> None:
    decision = decide(
        request=notification_requested(),
        channel="email",
        now=NOON_BERLIN,
        policy=POLICY,
        tags=["do_not_contact"],
    )
    assert isinstance(decision, Refuse)
    assert (decision.reason, decision.fallback) == ("do_not_contact", False)


def test_an_account_in_litigation_is_not_contacted_by_a_message_queued_before() -> None:
    decision = decide(
        request=notification_requested(),
        channel="letter",
        now=NOON_BERLIN,
        policy=policy_of(NotificationsSettings()),
        tags=["litigation"],
    )
    assert isinstance(decision, Refuse)
    assert (decision.reason, decision.fallback) == ("do_not_contact", False)


def test_consent_withdrawn_in_invoicing_overrides_the_request() -> None:
    decision = decide(
        request=notification_requested(),
        channel="sms",
        now=NOON_BERLIN,
        policy=POLICY,
        registered_consents={"c1": {"sms": False}},
    )
    assert isinstance(decision, Refuse)
    assert (decision.reason, decision.fallback) == ("no_consent", True)


def test_a_contact_without_a_phone_cannot_get_an_sms() -> None:
    req = notification_requested()
    req = req.model_copy(update={"recipient": req.recipient.model_copy(update={"phone": None})})
    decision = decide(request=req, channel="sms", now=NOON_BERLIN, policy=POLICY)
    assert isinstance(decision, Refuse)
    assert decision.reason == "missing_address"


def test_quiet_hours_defer_to_the_morning_in_the_recipients_zone() -> None:
    late_in_berlin = dt.datetime(2026, 11, 10, 21, 30, tzinfo=dt.UTC)  # 22:30 CET
    decision = decide(
        request=notification_requested(), channel="sms", now=late_in_berlin, policy=POLICY
    )
    assert decision == Defer(dt.datetime(2026, 11, 11, 7, 0, tzinfo=dt.UTC), "quiet_hours")


def test_letters_ignore_quiet_hours() -> None:
    late = dt.datetime(2026, 11, 10, 21, 30, tzinfo=dt.UTC)
    assert (
        decide(request=notification_requested(), channel="letter", now=late, policy=POLICY)
        == Send()
    )


def test_early_morning_is_quiet_until_eight_the_same_day() -> None:
    early = dt.datetime(2026, 11, 10, 5, 0, tzinfo=dt.UTC)  # 06:00 CET
    assert quiet_until(early, "Europe/Berlin", POLICY) == dt.datetime(
        2026, 11, 10, 7, 0, tzinfo=dt.UTC
    )


def test_the_frequency_cap_defers_the_fourth_message_until_the_window_allows_it() -> None:
    hour = dt.timedelta(hours=1)
    sent = [NOON_BERLIN - 20 * hour, NOON_BERLIN - 5 * hour, NOON_BERLIN - hour]
    decision = decide(
        request=notification_requested(),
        channel="email",
        now=NOON_BERLIN,
        policy=POLICY,
        sent_in_window=sent,
    )
    # The oldest of the three leaves the 24 h window 4 hours from now.
    assert decision == Defer(NOON_BERLIN + 4 * hour, "frequency_limit")


def test_sends_older_than_the_window_do_not_count() -> None:
    day = dt.timedelta(hours=24)
    sent = [NOON_BERLIN - day, NOON_BERLIN - day, NOON_BERLIN - dt.timedelta(hours=1)]
    decision = decide(
        request=notification_requested(),
        channel="email",
        now=NOON_BERLIN,
        policy=POLICY,
        sent_in_window=sent,
    )
    assert decision == Send()


def test_the_agency_hand_off_is_not_capped() -> None:
    sent = [NOON_BERLIN - dt.timedelta(minutes=n) for n in range(5)]
    decision = decide(
        request=notification_requested(),
        channel="agency",
        now=NOON_BERLIN,
        policy=POLICY,
        sent_in_window=sent,
    )
    assert not isinstance(decision, Defer)


def test_automated_calls_need_the_voice_opt_in_not_the_phone_consent() -> None:
    req = notification_requested(channel="voice", fallback_channels=[])
    phone_only = req.recipient.consent.model_copy(update={"phone": True, "voice": False})
    voice_only = req.recipient.consent.model_copy(update={"phone": False, "voice": True})

    def decision(consent: object) -> object:
        recipient = req.recipient.model_copy(update={"consent": consent})
        return decide(
            request=req.model_copy(update={"recipient": recipient}),
            channel="voice",
            now=NOON_BERLIN,
            policy=POLICY,
        )

    refused = decision(phone_only)
    assert isinstance(refused, Refuse)
    assert refused.reason == "no_consent"
    assert decision(voice_only) == Send()


def test_not_before_defers() -> None:
    later = NOON_BERLIN + dt.timedelta(hours=2)
    decision = decide(
        request=notification_requested(not_before=later),
        channel="email",
        now=NOON_BERLIN,
        policy=POLICY,
    )
    assert decision == Defer(later, "not_before")


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff(n, base_s=30, max_s=100).total_seconds() for n in (1, 2, 3, 4)]
    assert delays == [30, 60, 100, 100]


def test_transient_failures_retry_then_fall_back_then_give_up() -> None:
    def after(index: int, attempt: int) -> object:
        return after_transient_failure(
            channels=["email", "letter"],
            index=index,
            attempt=attempt,
            max_attempts=3,
            now=NOON_BERLIN,
            base_s=30.0,
            max_s=3600.0,
        )

    assert isinstance(after(0, 1), Retry)
    assert after(0, 3) == Fallback("letter", 1)
    assert after(1, 3) == GiveUp()
