"""Formal letters and invoice statements as PDF (fpdf2, embedded DejaVu Sans)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from dunlin_events import NotificationRequested
from notifications import fontcache
from notifications.letterhead import Letterhead
from notifications.templates.engine import Rendered, format_day, format_money, supported_locale

FONT_DIR = Path(__file__).parent / "fonts"
FAMILY = "dejavu"
_FONTS = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}

LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "due": "Due date",
        "days": "Days overdue",
        "balance": "Balance",
        "charges": "Interest and fees",
        "total": "Total due",
        "pay_by": "Payment deadline",
        "statement": "Statement of open invoices",
        "page": "Page",
    },
    "de": {
        "invoice": "Rechnung",
        "due": "Fällig am",
        "days": "Tage überfällig",
        "balance": "Betrag",
        "charges": "Zinsen und Gebühren",
        "total": "Gesamtbetrag",
        "pay_by": "Zahlungsfrist",
        "statement": "Aufstellung der offenen Rechnungen",
        "page": "Seite",
    },
}


@cache
def _parsed_fonts() -> dict[str, TTFFont]:
    # Parsing a TTF takes tens of milliseconds: parse once, copy per document.
    proto = FPDF()
    for style, path in _FONTS.items():
        proto.add_font(FAMILY, style, str(path))
    return {key: font for key, font in proto.fonts.items() if isinstance(font, TTFFont)}


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    for key, font in _parsed_fonts().items():
        # Each document needs its own glyph map and descriptor (output writes object ids into
        # the descriptor, and documents render in parallel threads); the parsed metrics are
        # shared read-only. The fontTools object is replaced by a stand-in whose subset comes
        # from the cache (see fontcache).
        own = copy.copy(font)
        own.i = len(pdf.fonts) + 1
        own.desc = copy.copy(font.desc)
        own.subset = SubsetMap(own)
        own.missing_glyphs = []
        own.ttfont = fontcache.DocumentFont(Path(str(font.ttffile)))
        pdf.fonts[key] = own
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    return pdf


def warm_up() -> None:
    """Parse the fonts now (a process's first document would otherwise pay for it)."""
    _parsed_fonts()


def _output(pdf: FPDF) -> bytes:
    return bytes(pdf.output(output_producer_class=fontcache.CachedSubsetOutput))


def _labels(locale: str) -> Mapping[str, str]:
    return LABELS.get(locale.split("-")[0], LABELS["en"])


def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


def _invoice_table(pdf: FPDF, request: NotificationRequested, locale: str) -> None:
    labels, cur = _labels(locale), request.currency
    widths = (55, 40, 30, 45)
    pdf.set_font(FAMILY, "B", 10)
    for width, label in zip(widths, ("invoice", "due", "days", "balance"), strict=True):
        pdf.cell(width, 7, labels[label], border="B", align="R" if label == "balance" else "L")
    pdf.ln()
    pdf.set_font(FAMILY, "", 10)
    for inv in request.invoices:
        pdf.cell(widths[0], 6, inv.invoice_number)
        pdf.cell(widths[1], 6, format_day(inv.due_date, "medium", locale))
        pdf.cell(widths[2], 6, str(max(inv.days_overdue, 0)))
        pdf.cell(widths[3], 6, _money(inv.balance, cur, locale), align="R")
        pdf.ln()
    if request.charges:
        pdf.set_font(FAMILY, "B", 10)
        pdf.cell(0, 7, labels["charges"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 10)
        for charge in request.charges:
            pdf.cell(sum(widths[:3]), 6, charge.description)
            pdf.cell(widths[3], 6, _money(charge.amount, cur, locale), align="R")
            pdf.ln()
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(sum(widths[:3]), 8, labels["total"], border="T")
    pdf.cell(widths[3], 8, _money(request.total_due, cur, locale), border="T", align="R")
    pdf.ln(10)


def _letterhead(pdf: FPDF, head: Letterhead) -> None:
    pdf.set_font(FAMILY, "B", 14)
    pdf.cell(0, 7, head.name, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(0, 5, " · ".join(head.address), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(12)


def _addressee(pdf: FPDF, request: NotificationRequested) -> None:
    address = request.recipient.postal_address
    pdf.set_font(FAMILY, "", 11)
    lines = [request.account_name, request.recipient.name]
    if address is not None:
        city = " ".join(p for p in (address.postal_code, address.city) if p)
        lines += [*address.lines, city, address.country]
    for line in lines:
        pdf.cell(0, 5.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(10)


def render_letter(
    request: NotificationRequested, rendered: Rendered, *, head: Letterhead, today: dt.date
) -> bytes:
    """The formal letter: letterhead, addressee, date, subject, body, invoices, deadline."""
    locale = supported_locale(request.locale)
    pdf = _new_pdf()
    pdf.add_page()
    _letterhead(pdf, head)
    _addressee(pdf, request)
    pdf.set_font(FAMILY, "", 10)
    pdf.cell(0, 6, format_day(today, "long", locale), align="R")
    pdf.ln(10)
    pdf.set_font(FAMILY, "B", 12)
    pdf.multi_cell(0, 6, rendered["subject"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(FAMILY, "", 11)
    pdf.multi_cell(0, 5.5, rendered["body"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _invoice_table(pdf, request, locale)
    if request.pay_by is not None:
        pdf.set_font(FAMILY, "B", 11)
        deadline = format_day(request.pay_by, "long", locale)
        pdf.cell(0, 6, f"{_labels(locale)['pay_by']}: {deadline}")
        pdf.ln(8)
    pdf.set_font(FAMILY, "", 11)
    pdf.multi_cell(0, 5.5, rendered["closing"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return _output(pdf)


def render_statement(request: NotificationRequested, *, head: Letterhead, today: dt.date) -> bytes:
    """The statement attached to e-mails: the invoices concerned and the total due."""
    locale = supported_locale(request.locale)
    pdf = _new_pdf()
    pdf.add_page()
    _letterhead(pdf, head)
    pdf.set_font(FAMILY, "B", 12)
    pdf.cell(0, 7, _labels(locale)["statement"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 10)
    pdf.cell(
        0,
        6,
        f"{request.account_name} · {format_day(today, 'long', locale)}",
    )
    pdf.ln(10)
    _invoice_table(pdf, request, locale)
    return _output(pdf)
