"""Deliveries held for review are resent or closed by an operator (audited); the frequency cap
defers a message until the window allows it; the print provider reports returned letters."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.mailsink import MailSink
from dunlin_events import NotificationSent
from dunlin_platform.clock import ManualClock
from notifications.channels.letter import PrintApiAdapter
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker
from notifications.signing import body_signature

from .support import delivery_of, get, outcomes, publish, request


async def held_for_review(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
    **overrides: Any,
) -> tuple[dict[str, Any], str]:
    """An e-mail that left, whose process died before recording it: (delivery, notification)."""
    req = request(**overrides)
    await publish(settings, req)
    delivery = await delivery_of(client, req)
    prepared = await worker.claim()
    [job] = [j for j in prepared.jobs if j.delivery_id == delivery["id"]]
    await worker.send(job)
    clock.advance(dt.timedelta(seconds=settings.sending_lease_s + 1))
    await worker.reconcile()
    held = await get(client, delivery["id"])
    assert held["status"] == "review"
    return held, req.notification_id


async def test_an_operator_resends_a_delivery_held_for_review_and_it_is_audited(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
    clock: ManualClock,
) -> None:
    held, notification_id = await held_for_review(settings, client, worker, clock)
    answer = await client.post(
        f"/deliveries/{held['id']}/resend", json={"reason": "not in the mail server's log"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"
    await worker.run_once()
    after = await get(client, held["id"])
    assert after["status"] == "sent"
    assert [a["status"] for a in after["attempts"]] == ["review", "sent"]
    [action] = after["actions"]
    assert (action["action"], action["outcome"]) == ("resend", None)
    assert action["reason"] == "not in the mail server's log"
    assert action["actor"].startswith("test-")
    assert len(mailsink.find("X-Dunlin-Notification", notification_id)) == 2


async def test_closing_as_sent_publishes_notification_sent_without_sending_again(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
    clock: ManualClock,
) -> None:
    held, notification_id = await held_for_review(settings, client, worker, clock)
    body = {"reason": "found in the relay's log", "outcome": "sent"}
    answer = await client.post(f"/deliveries/{held['id']}/close", json=body)
    assert answer.status_code == 200, answer.text
    closed = answer.json()
    assert closed["status"] == "sent"
    assert [a["status"] for a in closed["attempts"]] == ["sent"]
    assert [(a["action"], a["outcome"]) for a in closed["actions"]] == [("close", "sent")]
    [event] = await outcomes(settings.kafka_bootstrap_servers, notification_id, 1)
    assert isinstance(event, NotificationSent)
    await worker.run_once()
    assert len(mailsink.find("X-Dunlin-Notification", notification_id)) == 1


async def test_review_actions_need_a_delivery_in_review_and_a_reason(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
) -> None:
    held, _ = await held_for_review(settings, client, worker, clock)
    assert (await client.post(f"/deliveries/{held['id']}/resend", json={})).status_code == 422
    body = {"reason": "checked", "outcome": "failed"}
    assert (await client.post(f"/deliveries/{held['id']}/close", json=body)).status_code == 200
    again = await client.post(f"/deliveries/{held['id']}/resend", json={"reason": "again"})
    assert again.status_code == 409
    assert again.json()["type"].endswith("not-in-review")
    missing = await client.post("/deliveries/nope/resend", json={"reason": "x"})
    assert missing.status_code == 404


async def test_the_fourth_message_in_a_day_waits_until_the_first_leaves_the_window(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
    clock: ManualClock,
) -> None:
    first = request()
    account = first.account_id
    reqs = [first] + [request(account_id=account) for _ in range(settings.max_per_account)]
    ids = []
    for req in reqs:  # one after the other: the cap counts what was sent before
        await publish(settings, req)
        ids.append((await delivery_of(client, req))["id"])
        await worker.run_once()
        clock.advance(dt.timedelta(minutes=10))
    deliveries = [await get(client, i) for i in ids]
    assert [d["status"] for d in deliveries] == ["sent"] * settings.max_per_account + ["queued"]
    waiting = deliveries[-1]
    assert waiting["detail"] == "frequency_limit"
    first_sent = dt.datetime.fromisoformat(deliveries[0]["sent_at"])
    window = dt.timedelta(hours=settings.frequency_window_h)
    assert dt.datetime.fromisoformat(waiting["next_attempt_at"]) == first_sent + window
    assert mailsink.find("X-Dunlin-Notification", reqs[-1].notification_id) == []

    clock.advance(first_sent + window - clock.now())
    await worker.run_once()
    assert (await get(client, waiting["id"]))["status"] == "sent"


async def test_a_letter_returned_by_the_print_provider_fails_the_channel(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
    clock: ManualClock,
) -> None:
    # A worker whose letters go to the (fake) print-and-mail API instead of the local folder.
    with_print = settings.model_copy(update={"print_api_url": fakes.print_api_url})
    async with httpx.AsyncClient() as http:
        printing = DeliveryWorker(
            worker.runtime, with_print, {"letter": PrintApiAdapter(with_print, http)}
        )
        req = request(channel="letter", fallback_channels=[], step_key="demand")
        await publish(settings, req)
        delivery = await delivery_of(client, req)
        await printing.run_once()
    sent = await get(client, delivery["id"])
    assert (sent["status"], sent["provider"]) == ("sent", "print-api")
    body = json.dumps({"id": sent["provider_message_id"], "status": "returned"}).encode()
    secret = settings.print_webhook_secret.get_secret_value()
    ts = str(int(clock.now().timestamp()))
    headers = {"X-Dunlin-Timestamp": ts, "X-Dunlin-Signature": body_signature(secret, ts, body)}
    assert (await client.post("/callbacks/print", content=body, headers=headers)).status_code == 204
    after = await get(client, delivery["id"])
    assert (after["status"], after["failure_reason"]) == ("bounced", "bounced")
    forged = {**headers, "X-Dunlin-Signature": "sha256=00"}
    assert (await client.post("/callbacks/print", content=body, headers=forged)).status_code == 403
