"""E-mail MIME written by hand, parsed back by the standard library; PDFs embedding subsets
of exactly the glyphs they print (read back by pypdf and fontTools) and rendered in worker
processes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import io
import re
from email.message import EmailMessage
from typing import Any

import aiosmtplib.email
import aiosmtplib.protocol
import aiosmtplib.smtp
import pypdf
import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from dunlin_events import NotificationRequested
from dunlin_events.testing import notification_requested
from notifications.channels import mime, smtpdata
from notifications.channels.base import Attachment, Outgoing
from notifications.channels.email import build_email
from notifications.channels.mime import address
from notifications.documents import DocumentRenderer
from notifications.letterhead import Letterhead
from notifications.pdf import FONT_DIR, render_letter, render_statement
from notifications.pdffont import embedding
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
    assert raw.count(b"\r\n") == raw.count(b"\n") == raw.count(b"\r")  # CRLF throughout
    mail = parse(raw)
    assert mail.defects == []
    assert mail["Subject"] == subject.strip() or mail["Subject"] == subject
    assert mail["To"].addresses[0].display_name == 'Zoë "Q" Müller'
    assert mail["From"].addresses[0].display_name == "Dünlin GmbH"
    assert mail["Reply-To"].addresses[0].addr_spec == "collector@creditor.example"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().splitlines()[:2] == ["Grüße", ".dot line"]  # CRLF, as sent
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


def embedded_fonts(content: bytes) -> dict[str, TTFont]:
    """The embedded font programs by base font name, read by fontTools."""
    fonts = {}
    for page in pypdf.PdfReader(io.BytesIO(content)).pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            cid = font["/DescendantFonts"][0].get_object()
            data = cid["/FontDescriptor"]["/FontFile2"].get_data()
            fonts[str(font["/BaseFont"])] = TTFont(io.BytesIO(data), checkChecksums=2)
    return fonts


def test_a_document_embeds_exactly_the_glyphs_it_prints_with_the_fonts_outlines() -> None:
    req = notification_requested(account_name="Zoë Ærø & Co", locale="de")
    content = render_statement(req, head=HEAD, today=TODAY)
    fonts = embedded_fonts(content)
    assert sorted(name.split("+")[1] for name in fonts) == ["DejaVuSans", "DejaVuSans-Bold"]
    for name, subset in fonts.items():
        source = TTFont(FONT_DIR / f"{name.split('+')[1]}.ttf")
        # Glyph ids are the full font's (names differ: the subset has no post table).
        ours, theirs = subset.getGlyphOrder(), source.getGlyphOrder()
        drawn = [gid for gid, g in enumerate(ours) if subset["glyf"][g].numberOfContours]
        if name.endswith("+DejaVuSans"):
            cmap = source.getBestCmap()
            assert source.getGlyphID(cmap[ord("Ò")]) not in drawn  # not printed
            for char in "Zë Ærø€0123456789".replace(" ", ""):  # printed (all digits once one is)
                assert source.getGlyphID(cmap[ord(char)]) in drawn
        for gid in drawn:  # the same outline and metrics, without hinting instructions
            glyph, original = subset["glyf"][ours[gid]], source["glyf"][theirs[gid]]
            coordinates, ends, _ = glyph.getCoordinates(subset["glyf"])
            expected, expected_ends, _ = original.getCoordinates(source["glyf"])
            assert (list(coordinates), ends) == (list(expected), expected_ends)
            program = getattr(glyph, "program", None)
            assert program is None or not program.getBytecode()
            assert subset["hmtx"][ours[gid]] == source["hmtx"][theirs[gid]]
        assert "fpgm" not in subset
    assert "Zoë Ærø & Co" in pdf_text(content)


def test_documents_printing_the_same_characters_share_one_embedded_subset() -> None:
    embedding.cache_clear()
    rendered = Rendered({"subject": "Mahnung", "body": "Guten Tag", "closing": "Grüße"})
    texts = []
    for number in ("RE-1", "RE-2", "RE-3"):  # other digits, same subset (all ten digits)
        invoice = notification_requested().invoices[0].model_copy(update={"invoice_number": number})
        req = notification_requested(account_name="Müller GmbH", invoices=[invoice])
        texts.append(pdf_text(render_letter(req, rendered, head=HEAD, today=TODAY)))
    assert embedding.cache_info().misses == 2  # regular and bold, made once
    assert embedding.cache_info().hits == 2 * 2
    for number, text in zip(("RE-1", "RE-2", "RE-3"), texts, strict=True):
        assert number in text
        assert "Müller GmbH" in text
        assert "€" in text


def test_a_statement_longer_than_a_page_continues_on_the_next() -> None:
    template = notification_requested().invoices[0]
    invoices = [
        template.model_copy(update={"invoice_id": f"i{n}", "invoice_number": f"RE-{n:03d}"})
        for n in range(80)
    ]
    total = sum(i.balance for i in invoices)
    req = notification_requested(invoices=invoices, dunned_balance=total, total_due=total)
    pages = pypdf.PdfReader(io.BytesIO(render_statement(req, head=HEAD, today=TODAY))).pages
    assert len(pages) == 3
    text = "\n".join(page.extract_text() for page in pages)
    assert [f"RE-{n:03d}" in text for n in range(80)] == [True] * 80
    assert "Total due" in pages[-1].extract_text()


def test_a_letter_body_wraps_into_justified_lines_that_read_back_in_order() -> None:
    body = " ".join(f"word{n}" for n in range(120)) + "\n\nZweiter Absatz."
    rendered = Rendered({"subject": "Mahnung", "body": body, "closing": "Grüße"})
    text = pdf_text(render_letter(notification_requested(), rendered, head=HEAD, today=TODAY))
    words = [w for w in text.split() if w.startswith("word")]
    assert words == [f"word{n}" for n in range(120)]
    assert "Zweiter Absatz." in text


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


def invoiced(number: str) -> NotificationRequested:
    invoice = notification_requested().invoices[0].model_copy(update={"invoice_number": number})
    return notification_requested(invoices=[invoice])


def test_documents_asked_for_together_come_back_each_to_its_own_caller() -> None:
    requests = [invoiced(f"RE-{n}") for n in range(60)]  # several batches per worker
    letter = Rendered({"subject": "Mahnung", "body": "Guten Tag", "closing": "Grüße"})

    async def render() -> list[bytes | BaseException]:
        renderer = DocumentRenderer(HEAD, workers=2)
        try:
            return await asyncio.gather(
                *(
                    renderer.letter(r, letter, today=TODAY)
                    if n % 3 == 0
                    else renderer.statement(r, today=TODAY)
                    for n, r in enumerate(requests)
                ),
                renderer.letter(requests[0], Rendered({"subject": "no body"}), today=TODAY),
                return_exceptions=True,
            )
        finally:
            await asyncio.to_thread(renderer.close)

    *documents, broken = asyncio.run(render())
    assert isinstance(broken, KeyError)  # that letter alone fails
    for n, document in enumerate(documents):
        assert isinstance(document, bytes)
        text = pdf_text(document)
        assert f"\nRE-{n} " in text  # the invoice row of its own request
        assert ("Guten Tag" in text) == (n % 3 == 0)


SMTP_DATA_CASES = [
    b"",
    b"all\r\nCRLF\r\n",
    b".",
    b"..\r\n.",
    b"a\r\nb\nc\rd\r\r\ne\n\r",
    b".start\n.dot\r\n..two\r.lone-cr\r\n\r\n.",
    b"\r\n\n\r\r\r\n.\n",
    bytes(range(256)) * 3,
]


def test_aiosmtplib_data_preparation_is_unchanged_by_the_faster_replacements() -> None:
    line_endings = re.compile(smtpdata.LINE_ENDINGS)
    periods = re.compile(smtpdata.LEADING_PERIOD)
    for data in SMTP_DATA_CASES:
        assert smtpdata.LineEndings().sub(b"\r\n", data) == line_endings.sub(b"\r\n", data)
        assert smtpdata.LeadingPeriods().sub(b"..", data) == periods.sub(b"..", data)
    smtpdata.install()
    protocol = aiosmtplib.protocol
    assert isinstance(protocol.LINE_ENDINGS_REGEX, smtpdata.LineEndings)
    assert isinstance(protocol.PERIOD_REGEX, smtpdata.LeadingPeriods)
    assert protocol.normalize_message_line_endings(b"a\nb\rc") == b"a\r\nb\r\nc\r\n"


def test_aiosmtplib_parses_each_address_as_before_once() -> None:
    smtpdata.install()
    assert getattr(aiosmtplib.smtp, "parse_address") is smtpdata.parse_address  # noqa: B009
    for value in ("a@b.example", "Jürgen <j@b.example>", '"x y"@b.example', " c@d.example "):
        assert smtpdata.parse_address(value) == aiosmtplib.email.parse_address(value)
        assert smtpdata.quote_address(value) == aiosmtplib.email.quote_address(value)
    for _ in range(2):  # refused every time, not remembered as valid
        with pytest.raises(ValueError, match="not permitted"):
            smtpdata.quote_address("a b@c.example")


def test_attachments_are_base64_in_lines_of_76_as_encodebytes_writes_them() -> None:
    for size in (0, 1, 56, 57, 58, 114, 20_000):
        content = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        expected = base64.encodebytes(content).decode("ascii").replace("\n", "\r\n")
        assert mime.base64_lines(content) == expected
