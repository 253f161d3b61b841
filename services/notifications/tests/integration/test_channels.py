"""Each channel really delivers, against the SMTP sink and the HTTP fakes; content checked."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pypdf

from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.mailsink import MailSink
from dunlin_events import NotificationDelivered, NotificationSent
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker
from notifications.signing import twilio_signature, valid_body_signature

from .support import outcomes, request, submit

CASE_FILE: dict[str, Any] = {
    "account_name": "Acme GmbH",
    "currency": "EUR",
    "total_due": "1190.00",
    "invoices": [
        {
            "invoice_id": "i1",
            "invoice_number": "RE-77",
            "due_date": "2026-09-01",
            "balance": "1190.00",
            "days_overdue": 70,
        }
    ],
}


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


async def test_an_email_carries_text_html_statement_link_and_reply_to(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    mailsink: MailSink,
) -> None:
    req = request(
        payment_link="https://pay.example/p/1?x=1&y=2", reply_to="collector@creditor.example"
    )
    delivery = await submit(settings, client, worker, req)
    assert delivery["status"] == "sent"
    [mail] = mailsink.find("X-Dunlin-Notification", req.notification_id)
    assert mail["Reply-To"] == "collector@creditor.example"
    assert "Payment reminder" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "https://pay.example/p/1?x=1&y=2" in text.get_content()
    assert 'href="https://pay.example/p/1?x=1&amp;y=2"' in html.get_content()
    [statement] = list(mail.iter_attachments())
    assert statement.get_filename() == "statement.pdf"
    assert req.invoices[0].invoice_number in pdf_text(statement.get_content())
    [document] = delivery["documents"]  # the statement as sent is archived
    archived = await client.get(document["url"])
    assert archived.content == statement.get_content()
    [sent] = await outcomes(settings.kafka_bootstrap_servers, req.notification_id, 1)
    assert isinstance(sent, NotificationSent)
    assert (sent.channel, sent.provider, sent.provider_message_id) == (
        "email",
        "smtp",
        mail["Message-ID"],
    )


async def test_a_german_letter_is_archived_and_downloadable(
    settings: NotificationsSettings, client: httpx.AsyncClient, worker: DeliveryWorker
) -> None:
    req = request(
        channel="letter",
        fallback_channels=[],
        step_key="demand",
        template_key="demand",
        locale="de",
    )
    delivery = await submit(settings, client, worker, req)
    assert delivery["status"] == "sent"
    [document] = delivery["documents"]
    response = await client.get(document["url"])
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Dunlin Demo GmbH" in text
    assert "Acme GmbH" in text
    assert "Hauptstr. 1" in text
    assert "1.190,00 €" in text
    assert "20. November 2026" in text
    assert req.invoices[0].invoice_number in text
    assert (settings.letters_dir / document["filename"]).read_bytes() == response.content


async def test_an_sms_is_sent_and_its_signed_status_callback_marks_it_delivered(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
) -> None:
    req = request(
        channel="sms", step_key="firm_reminder", template_key="firm_reminder", locale="de"
    )
    delivery = await submit(settings, client, worker, req)
    sid = delivery["provider_message_id"]
    [sms] = [m for m in fakes.received.of("sms") if m["sid"] == sid]
    assert "1.190,00\xa0€" in sms["Body"]
    assert sms["To"] == req.recipient.phone
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    url = "http://notifications/callbacks/sms"
    forged = await client.post("/callbacks/sms", data=form, headers={"X-Twilio-Signature": "bad"})
    assert forged.status_code == 403
    signature = twilio_signature(settings.sms_auth_token.get_secret_value(), url, form)
    ok = await client.post("/callbacks/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert ok.status_code == 204
    events = await outcomes(settings.kafka_bootstrap_servers, req.notification_id, 2)
    assert isinstance(events[1], NotificationDelivered)
    assert (await client.get(f"/deliveries/{delivery['id']}")).json()["status"] == "delivered"


async def test_a_voice_call_reads_the_rendered_text(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
) -> None:
    req = request(channel="voice", step_key="call", template_key="call")
    consent = req.recipient.consent.model_copy(update={"voice": True})
    req = req.model_copy(
        update={"recipient": req.recipient.model_copy(update={"consent": consent})}
    )
    delivery = await submit(settings, client, worker, req)
    [call] = [c for c in fakes.received.of("call") if c["sid"] == delivery["provider_message_id"]]
    assert "<Say" in call["Twiml"]
    assert "€1,190.00" in call["Twiml"]


async def test_the_agency_gets_a_signed_case_file_and_acknowledges_it(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    fakes: FakeProviders,
) -> None:
    req = request(
        channel="agency",
        fallback_channels=[],
        step_key="agency",
        template_key="agency",
        case_file=CASE_FILE,
    )
    delivery = await submit(settings, client, worker, req)
    assert delivery["status"] == "delivered"
    [case] = [
        c for c in fakes.received.of("case") if c["reference"] == delivery["provider_message_id"]
    ]
    assert case["case_file"]["invoices"][0]["invoice_number"] == "RE-77"
    secret = settings.agency_secret.get_secret_value()
    assert valid_body_signature(secret, case["timestamp"], case["raw"].encode(), case["signature"])
    assert json.loads(case["raw"])["case_id"] == req.case_id
