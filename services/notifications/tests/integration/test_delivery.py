"""Exactly once, crash safety, fallback, quiet hours and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx

from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.mailsink import MailSink
from dunlin_devstack.topics import read_topic
from dunlin_events import NotificationFailed, NotificationSent, topics
from dunlin_platform.clock import ManualClock
from notifications.channels.base import ChannelAdapter, Outgoing, Receipt, TransientFailure
from notifications.channels.email import EmailAdapter
from notifications.channels.registry import build_adapters
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker
from notifications.signing import body_signature

from .support import delivery_of, get, outcomes, publish, request, submit


async def test_a_request_arriving_twice_is_sent_once(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
) -> None:
    req = request()
    await publish(settings, req, req)
    delivery = await delivery_of(client, req)
    await worker.run_once()
    await publish(settings, req)
    await worker.run_once()
    assert len(mailsink.find("X-Dunlin-Notification", req.notification_id)) == 1
    page = (await client.get("/deliveries", params={"account_id": req.account_id})).json()
    assert [d["id"] for d in page["items"]] == [delivery["id"]]


async def test_an_email_interrupted_between_send_and_record_is_held_for_review(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
    clock: ManualClock,
) -> None:
    req = request()
    await publish(settings, req)
    delivery = await delivery_of(client, req)
    prepared = await worker.claim()
    [job] = [j for j in prepared.jobs if j.delivery_id == delivery["id"]]
    await worker.send(job)  # the e-mail leaves ... and the process dies before recording it
    clock.advance(dt.timedelta(seconds=settings.sending_lease_s + 1))
    await worker.reconcile()
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert after["status"] == "review"
    assert after["attempts"][0]["status"] == "review"
    assert len(mailsink.find("X-Dunlin-Notification", req.notification_id)) == 1


async def test_an_interrupted_sms_is_resent_with_the_same_key_and_arrives_once(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
    clock: ManualClock,
) -> None:
    req = request(channel="sms")
    await publish(settings, req)
    delivery = await delivery_of(client, req)
    prepared = await worker.claim()
    [job] = [j for j in prepared.jobs if j.delivery_id == delivery["id"]]
    await worker.send(job)
    duplicates = fakes.received.duplicates
    clock.advance(dt.timedelta(seconds=settings.sending_lease_s + 1))
    await worker.reconcile()
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert after["status"] == "sent"
    assert [a["status"] for a in after["attempts"]] == ["interrupted", "sent"]
    sms = [m for m in fakes.received.of("sms") if m["sid"] == after["provider_message_id"]]
    assert len(sms) == 1
    assert fakes.received.duplicates == duplicates + 1


async def test_a_refused_mailbox_falls_back_to_a_letter(
    settings: NotificationsSettings, client: httpx.AsyncClient, worker: DeliveryWorker
) -> None:
    req = request()
    req = req.model_copy(
        update={"recipient": req.recipient.model_copy(update={"email": "bounce@acme.example"})}
    )
    delivery = await submit(settings, client, worker, req)
    assert (delivery["channel"], delivery["status"]) == ("letter", "queued")
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert (after["channel"], after["status"]) == ("letter", "sent")
    failed, sent = await outcomes(settings.kafka_bootstrap_servers, req.notification_id, 2)
    assert isinstance(failed, NotificationFailed)
    assert (failed.reason, failed.fallback_channel) == ("bounced", "letter")
    assert isinstance(sent, NotificationSent)
    assert sent.channel == "letter"


async def test_a_bounce_reported_later_by_webhook_falls_back_to_a_letter(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
) -> None:
    req = request()
    delivery = await submit(settings, client, worker, req)
    event = {"message_id": delivery["provider_message_id"], "event": "bounced", "reason": "5.1.1"}
    body = json.dumps(event).encode()
    secret = settings.email_webhook_secret.get_secret_value()
    ts = str(int(clock.now().timestamp()))
    headers = {"X-Dunlin-Timestamp": ts, "X-Dunlin-Signature": body_signature(secret, ts, body)}
    assert (await client.post("/callbacks/email", content=body, headers=headers)).status_code == 204
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert (after["channel"], after["status"]) == ("letter", "sent")
    assert [a["status"] for a in after["attempts"]] == ["bounced", "sent"]


async def test_quiet_hours_defer_rather_than_drop(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
    clock: ManualClock,
) -> None:
    req = request(time_zone="Pacific/Kiritimati")  # UTC+14: it is night there now
    delivery = await submit(settings, client, worker, req)
    assert delivery["status"] == "queued"
    assert delivery["detail"] == "quiet_hours"
    wake = dt.datetime.fromisoformat(delivery["next_attempt_at"])
    assert wake > clock.now()
    assert wake.astimezone(dt.timezone(dt.timedelta(hours=14))).hour == 8
    assert mailsink.find("X-Dunlin-Notification", req.notification_id) == []


async def test_an_unknown_template_fails_with_its_reason_then_tries_the_fallback(
    settings: NotificationsSettings, client: httpx.AsyncClient, worker: DeliveryWorker
) -> None:
    req = request(template_key="no_such_template")
    delivery = await submit(settings, client, worker, req)
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert (after["status"], after["failure_reason"]) == ("failed", "unknown_template")
    first, second = await outcomes(settings.kafka_bootstrap_servers, req.notification_id, 2)
    assert isinstance(first, NotificationFailed)
    assert first.fallback_channel == "letter"
    assert isinstance(second, NotificationFailed)
    assert second.fallback_channel is None


async def test_a_contact_without_an_email_address_gets_the_letter(
    settings: NotificationsSettings, client: httpx.AsyncClient, worker: DeliveryWorker
) -> None:
    req = request()
    req = req.model_copy(update={"recipient": req.recipient.model_copy(update={"email": None})})
    delivery = await submit(settings, client, worker, req)
    await worker.run_once()
    after = await get(client, delivery["id"])
    assert (after["channel"], after["status"]) == ("letter", "sent")
    [failed, _] = await outcomes(settings.kafka_bootstrap_servers, req.notification_id, 2)
    assert isinstance(failed, NotificationFailed)
    assert failed.reason == "missing_address"


async def test_an_undecodable_message_goes_to_the_dead_letter_topic(
    settings: NotificationsSettings,
) -> None:
    marker = b"not-json-" + dt.datetime.now(dt.UTC).isoformat().encode()
    await publish(settings, raw=marker)
    found = await read_topic(
        settings.kafka_bootstrap_servers,
        topics.dlq_topic(settings.dunning_events_topic),
        lambda r: r.value == marker,
        count=1,
    )
    assert found


class _TimesOutAfterSending:
    """The provider takes the first message but the answer never arrives (a read timeout)."""

    def __init__(self, adapter: ChannelAdapter) -> None:
        self._adapter = adapter
        self.provider, self.idempotent = adapter.provider, adapter.idempotent
        self.keys: list[str] = []

    async def send(self, message: Outgoing) -> Receipt:
        self.keys.append(message.idempotency_key)
        receipt = await self._adapter.send(message)
        if len(self.keys) == 1:
            raise TransientFailure("twilio-sms unreachable: ReadTimeout")
        return receipt

    async def close(self) -> None:
        """The wrapped adapter is closed by its owner."""


async def test_an_sms_retried_after_a_provider_timeout_arrives_once(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
    clock: ManualClock,
) -> None:
    adapters, close = build_adapters(settings, clock=clock)
    adapter = _TimesOutAfterSending(adapters["sms"])
    retrying = DeliveryWorker(worker.runtime, settings, {"sms": adapter}, worker.documents)
    req = request(channel="sms")
    await publish(settings, req)
    delivery = await delivery_of(client, req)
    texts = len(fakes.received.of("sms"))
    await retrying.run_once()
    assert (await get(client, delivery["id"]))["status"] == "queued"
    clock.advance(dt.timedelta(seconds=settings.retry_base_s + 1))
    await retrying.run_once()
    after = await get(client, delivery["id"])
    assert after["status"] == "sent"
    assert [a["status"] for a in after["attempts"]] == ["failed", "sent"]
    assert len(adapter.keys) == 2
    assert adapter.keys[0] == adapter.keys[1]
    assert len(fakes.received.of("sms")) == texts + 1
    await close()


class _DropsAfterData:
    """An SMTP server that takes the whole message, then drops the line without answering."""

    def __init__(self) -> None:
        self.messages = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _DropsAfterData:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fake\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                self.messages += 1
                break
            writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
            await writer.drain()
        writer.close()


async def test_an_email_whose_data_got_no_answer_is_held_for_review_not_sent_again(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    clock: ManualClock,
) -> None:
    async with _DropsAfterData() as server:
        smtp = settings.model_copy(update={"smtp_port": server.port})
        adapter = EmailAdapter(smtp)
        dropping = DeliveryWorker(worker.runtime, smtp, {"email": adapter}, worker.documents)
        req = request()
        await publish(settings, req)
        delivery = await delivery_of(client, req)
        await dropping.run_once()
        clock.advance(dt.timedelta(seconds=settings.retry_base_s + 1))
        await dropping.run_once()
        await adapter.close()
    after = await get(client, delivery["id"])
    assert after["status"] == "review"
    assert [a["status"] for a in after["attempts"]] == ["review"]
    assert server.messages == 1
