"""Provider callbacks: signed timestamps are age-checked (no replays), repeats change nothing;
a busy line or an unanswered call is a failed attempt, not a bounced (invalid) number."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from dunlin_events import NotificationFailed, NotificationSent
from dunlin_platform.clock import ManualClock
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker
from notifications.signing import body_signature, twilio_signature

from .support import get, outcomes, request, submit


def signed(secret: str, body: bytes, at: dt.datetime) -> dict[str, str]:
    """X-Dunlin-Timestamp / X-Dunlin-Signature headers as a provider signs `body` at `at`."""
    timestamp = str(int(at.timestamp()))
    return {
        "X-Dunlin-Timestamp": timestamp,
        "X-Dunlin-Signature": body_signature(secret, timestamp, body),
    }


async def sent_email(
    settings: NotificationsSettings, client: httpx.AsyncClient, worker: DeliveryWorker
) -> tuple[dict[str, Any], str]:
    """A reminder e-mail handed to SMTP (letter as fallback): (delivery, notification id)."""
    req = request()
    delivery = await submit(settings, client, worker, req)
    assert delivery["status"] == "sent"
    return delivery, req.notification_id


def bounce_of(delivery: dict[str, Any]) -> bytes:
    event = {"message_id": delivery["provider_message_id"], "event": "bounced", "reason": "5.1.1"}
    return json.dumps(event).encode()


@pytest.mark.parametrize("skew", [dt.timedelta(minutes=-6), dt.timedelta(minutes=6)])
async def test_a_validly_signed_callback_outside_the_tolerance_is_refused(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
    skew: dt.timedelta,
) -> None:
    delivery, _ = await sent_email(settings, client, worker)
    body = bounce_of(delivery)
    secret = settings.email_webhook_secret.get_secret_value()
    replayed = await client.post(
        "/callbacks/email", content=body, headers=signed(secret, body, clock.now() + skew)
    )
    assert replayed.status_code == 403
    assert replayed.headers["content-type"].startswith("application/problem+json")
    problem = replayed.json()
    assert (problem["status"], problem["title"]) == (403, "Forbidden")
    assert "X-Dunlin-Timestamp" in problem["detail"]
    assert (await get(client, delivery["id"]))["status"] == "sent"  # nothing applied


async def test_a_print_callback_signed_long_ago_is_refused(
    settings: NotificationsSettings, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = json.dumps({"id": "ltr-replayed", "status": "returned"}).encode()
    secret = settings.print_webhook_secret.get_secret_value()
    old = clock.now() - dt.timedelta(days=3)
    response = await client.post(
        "/callbacks/print", content=body, headers=signed(secret, body, old)
    )
    assert response.status_code == 403
    assert "X-Dunlin-Timestamp" in response.json()["detail"]


@pytest.mark.parametrize("timestamp", ["", "soon", "1e9", "-1"])
async def test_a_callback_whose_timestamp_is_not_unix_seconds_is_refused(
    settings: NotificationsSettings, client: httpx.AsyncClient, timestamp: str
) -> None:
    body = json.dumps({"message_id": "<nobody@dunlin>", "event": "delivered"}).encode()
    secret = settings.email_webhook_secret.get_secret_value()
    headers = {
        "X-Dunlin-Timestamp": timestamp,
        "X-Dunlin-Signature": body_signature(secret, timestamp, body),
    }
    response = await client.post("/callbacks/email", content=body, headers=headers)
    assert response.status_code == 403


async def test_a_callback_within_the_tolerance_is_applied_and_a_repeat_changes_nothing(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
) -> None:
    delivery, notification_id = await sent_email(settings, client, worker)
    body = bounce_of(delivery)
    secret = settings.email_webhook_secret.get_secret_value()
    headers = signed(secret, body, clock.now() - dt.timedelta(minutes=4))
    first = await client.post("/callbacks/email", content=body, headers=headers)
    assert first.status_code == 204
    after_first = await get(client, delivery["id"])
    assert (after_first["channel"], after_first["status"]) == ("letter", "queued")
    # The very same request again (a provider retry, or a replay inside the window).
    again = await client.post("/callbacks/email", content=body, headers=headers)
    assert again.status_code == 204
    assert await get(client, delivery["id"]) == after_first
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert [a["status"] for a in after["attempts"]] == ["bounced", "sent"]
    # In outbox order: a second NotificationFailed would come before the letter's Sent.
    events = await outcomes(settings.kafka_bootstrap_servers, notification_id, 3)
    assert [type(e) for e in events] == [NotificationSent, NotificationFailed, NotificationSent]
    assert isinstance(events[2], NotificationSent)
    assert events[2].channel == "letter"


async def twilio_status(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    *,
    channel: str,
    sid: str,
    status: str,
) -> None:
    """Post a Twilio-signed status callback for the message or call `sid`."""
    key = "MessageSid" if channel == "sms" else "CallSid"
    form = {key: sid, "MessageStatus" if channel == "sms" else "CallStatus": status}
    token = settings.sms_auth_token.get_secret_value()
    signature = twilio_signature(token, f"http://notifications/callbacks/{channel}", form)
    response = await client.post(
        f"/callbacks/{channel}", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 204


async def sent_by_phone(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    *,
    channel: str,
    fallback: list[str],
) -> tuple[dict[str, Any], str]:
    """An SMS or a call handed to the (fake) provider: (delivery, notification id)."""
    req = request(channel=channel, fallback_channels=fallback, step_key="call", template_key="call")
    consent = req.recipient.consent.model_copy(update={"voice": True})
    req = req.model_copy(
        update={"recipient": req.recipient.model_copy(update={"consent": consent})}
    )
    delivery = await submit(settings, client, worker, req)
    assert (delivery["channel"], delivery["status"]) == (channel, "sent")
    return delivery, req.notification_id


@pytest.mark.parametrize(
    ("channel", "status"),
    [("voice", "busy"), ("voice", "no-answer"), ("voice", "canceled"), ("sms", "canceled")],
)
async def test_a_busy_unanswered_or_canceled_attempt_fails_the_channel_without_a_bounce(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    channel: str,
    status: str,
) -> None:
    delivery, notification_id = await sent_by_phone(
        settings, client, worker, channel=channel, fallback=["letter"]
    )
    sid = delivery["provider_message_id"]
    await twilio_status(settings, client, channel=channel, sid=sid, status=status)
    await twilio_status(settings, client, channel=channel, sid=sid, status=status)  # repeated
    after = await get(client, delivery["id"])
    assert (after["channel"], after["status"]) == ("letter", "queued")  # dunning's next channel
    assert after["failure_reason"] != "bounced"
    assert [a["status"] for a in after["attempts"]] == ["failed"]
    _, failed = await outcomes(settings.kafka_bootstrap_servers, notification_id, 2)
    assert isinstance(failed, NotificationFailed)
    assert (failed.reason, failed.fallback_channel) == ("provider_error", "letter")
    assert status in (failed.detail or "")


@pytest.mark.parametrize(
    ("channel", "status", "ends"),
    [
        ("voice", "no-answer", "failed"),  # no channel left: failed, the number not bounced
        ("sms", "undelivered", "bounced"),  # an undelivered message still bounces the number
    ],
)
async def test_with_no_channel_left_an_unanswered_call_fails_and_an_undelivered_sms_bounces(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    channel: str,
    status: str,
    ends: str,
) -> None:
    delivery, _ = await sent_by_phone(settings, client, worker, channel=channel, fallback=[])
    sid = delivery["provider_message_id"]
    await twilio_status(settings, client, channel=channel, sid=sid, status=status)
    after = await get(client, delivery["id"])
    reason = "provider_error" if ends == "failed" else "bounced"
    assert (after["status"], after["failure_reason"]) == (ends, reason)
    assert [a["status"] for a in after["attempts"]] == [ends]
