"""E-mail MIME written by hand, parsed back by the standard library; PDFs with cached font
subsets (text still extractable) and rendered in worker processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import io
from email.message import EmailMessage

import pypdf

from dunlin_events.testing import notification_requested
from notifications import fontcache
from notifications.channels.base import Attachment, Outgoing
from notifications.channels.email import build_email
from notifications.channels.mime import address
from notifications.documents import DocumentRenderer
from notifications.letterhead import Letterhead
from notifications.pdf import render_letter, render_statement
from notifications.templates.engine import Rendered

HEAD = Letterhead("Dunlin Demo GmbH", ["Musterstraße 1", "10115 Berlin"])
TODAY = dt.date(2026, 11, 10)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_an_email_with_accents_quotes_and_attachments_parses_back() -> None:
    req = notification_requested(reply_to="Jürgen <collector@creditor.example>")
    recipient = req.recipient.model_copy(update={"name": 'Zoë "Q" Müller'})
    req = req.model_copy(update={"recipient": recipient})
    subject = "Zahlungserinnerung \u2013 Rechnung über 1.190,00 € " * 3
    rendered = Rendered({"subject": subject, "text": "Grüße\n.dot line", "html": "<p>€</p>"})
    files = [Attachment("statement.pdf", b"%PDF" * 500), Attachment("Übersicht.pdf", b"x")]
    raw = build_email(
        Outgoing("d", "email", "k", req, rendered, files),
        sender=address("Dünlin GmbH <billing@dunlin.example>"),
        message_id="<m@dunlin>",
        date="Tue, 10 Nov 2026 10:00:00 GMT",
    )
    assert raw.isascii()
    mail = parse(raw)
    assert mail.defects == []
    assert mail["Subject"] == subject.strip() or mail["Subject"] == subject
    assert mail["To"].addresses[0].display_name == 'Zoë "Q" Müller'
    assert mail["From"].addresses[0].display_name == "Dünlin GmbH"
    assert mail["Reply-To"].addresses[0].addr_spec == "collector@creditor.example"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().startswith("Grüße\n.dot line")
    assert "€" in html.get_content()
    assert [(a.get_filename(), a.get_content()) for a in mail.iter_attachments()] == [
        ("statement.pdf", b"%PDF" * 500),
        ("Übersicht.pdf", b"x"),
    ]


def test_a_line_break_in_a_subject_cannot_inject_a_header() -> None:
    rendered = Rendered({"subject": "Hi\r\nBcc: evil@x.example", "text": "t", "html": "h"})
    raw = build_email(
        Outgoing("d", "email", "k", notification_requested(), rendered),
        sender="a@b.example",
        message_id="<m@dunlin>",
        date="Tue, 10 Nov 2026 10:00:00 GMT",
    )
    mail = parse(raw)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hi Bcc: evil@x.example"


def test_letters_with_different_names_share_one_cached_font_subset() -> None:
    fontcache.CACHE.clear()
    rendered = Rendered({"subject": "Mahnung", "body": "Guten Tag", "closing": "Grüße"})
    names = ["Müller GmbH", "Zörner AG", "Bäcker KG"]
    texts = []
    for name in names:
        req = notification_requested(account_name=name, locale="de")
        texts.append(pdf_text(render_letter(req, rendered, head=HEAD, today=TODAY)))
    assert fontcache.CACHE.misses == 2  # one subset per font (regular, bold), then hits
    assert fontcache.CACHE.hits == 2 * (len(names) - 1)
    for name, text in zip(names, texts, strict=True):
        assert name in text
        assert "€" in text


CYRILLIC_NAME = "\u041e\u041e\u041e \u0420\u043e\u043c\u0430\u0448\u043a\u0430 № 5 ₽"


def test_characters_outside_the_cached_runs_still_print() -> None:
    req = notification_requested(account_name=CYRILLIC_NAME, locale="de")
    text = pdf_text(render_statement(req, head=HEAD, today=TODAY))
    assert CYRILLIC_NAME in text


def test_worker_processes_render_the_same_document() -> None:
    async def render() -> bytes:
        renderer = DocumentRenderer(HEAD, workers=1)
        try:
            return await renderer.statement(notification_requested(), today=TODAY)
        finally:
            await asyncio.to_thread(renderer.close)

    pdf = asyncio.run(render())
    assert "RE-" in pdf_text(pdf)
