"""Formal letters and invoice statements as PDF (pdfwriter, embedded DejaVu Sans subsets)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path

from dunlin_events import NotificationRequested
from notifications.letterhead import Letterhead
from notifications.pdfwriter import Document
from notifications.templates.engine import Rendered, format_day, format_money, supported_locale
from notifications.ttf import TrueTypeFont

FONT_DIR = Path(__file__).parent / "fonts"
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
def _fonts() -> dict[str, TrueTypeFont]:
    # Reading a font takes milliseconds: once per process, shared by its documents.
    return {style: TrueTypeFont(path) for style, path in _FONTS.items()}


def _new_pdf() -> Document:
    pdf = Document(_fonts(), margin=20)
    pdf.add_page()
    return pdf


def warm_up() -> None:
    """Read the fonts now (a process's first document would otherwise pay for it)."""
    _fonts()


def _labels(locale: str) -> Mapping[str, str]:
    return LABELS.get(locale.split("-")[0], LABELS["en"])


def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


def _invoice_table(pdf: Document, request: NotificationRequested, locale: str) -> None:
    labels, cur = _labels(locale), request.currency
    widths = (55, 40, 30, 45)
    pdf.set_font("B", 10)
    for width, label in zip(widths, ("invoice", "due", "days", "balance"), strict=True):
        pdf.cell(width, 7, labels[label], border="B", align="R" if label == "balance" else "L")
    pdf.ln()
    pdf.set_font("", 10)
    for inv in request.invoices:
        pdf.cell(widths[0], 6, inv.invoice_number)
        pdf.cell(widths[1], 6, format_day(inv.due_date, "medium", locale))
        pdf.cell(widths[2], 6, str(max(inv.days_overdue, 0)))
        pdf.cell(widths[3], 6, _money(inv.balance, cur, locale), align="R")
        pdf.ln()
    if request.charges:
        pdf.set_font("B", 10)
        pdf.cell(0, 7, labels["charges"], newline=True)
        pdf.set_font("", 10)
        for charge in request.charges:
            pdf.cell(sum(widths[:3]), 6, charge.description)
            pdf.cell(widths[3], 6, _money(charge.amount, cur, locale), align="R")
            pdf.ln()
    pdf.set_font("B", 11)
    pdf.cell(sum(widths[:3]), 8, labels["total"], border="T")
    pdf.cell(widths[3], 8, _money(request.total_due, cur, locale), border="T", align="R")
    pdf.ln(10)


def _letterhead(pdf: Document, head: Letterhead) -> None:
    pdf.set_font("B", 14)
    pdf.cell(0, 7, head.name, align="R", newline=True)
    pdf.set_font("", 9)
    pdf.cell(0, 5, " · ".join(head.address), align="R", newline=True)
    pdf.ln(12)


def _addressee(pdf: Document, request: NotificationRequested) -> None:
    address = request.recipient.postal_address
    pdf.set_font("", 11)
    lines = [request.account_name, request.recipient.name]
    if address is not None:
        city = " ".join(p for p in (address.postal_code, address.city) if p)
        lines += [*address.lines, city, address.country]
    for line in lines:
        pdf.cell(0, 5.5, line, newline=True)
    pdf.ln(10)


def render_letter(
    request: NotificationRequested, rendered: Rendered, *, head: Letterhead, today: dt.date
) -> bytes:
    """The formal letter: letterhead, addressee, date, subject, body, invoices, deadline."""
    locale = supported_locale(request.locale)
    pdf = _new_pdf()
    _letterhead(pdf, head)
    _addressee(pdf, request)
    pdf.set_font("", 10)
    pdf.cell(0, 6, format_day(today, "long", locale), align="R")
    pdf.ln(10)
    pdf.set_font("B", 12)
    pdf.multi_cell(0, 6, rendered["subject"])
    pdf.ln(4)
    pdf.set_font("", 11)
    pdf.multi_cell(0, 5.5, rendered["body"])
    pdf.ln(4)
    _invoice_table(pdf, request, locale)
    if request.pay_by is not None:
        pdf.set_font("B", 11)
        deadline = format_day(request.pay_by, "long", locale)
        pdf.cell(0, 6, f"{_labels(locale)['pay_by']}: {deadline}")
        pdf.ln(8)
    pdf.set_font("", 11)
    pdf.multi_cell(0, 5.5, rendered["closing"])
    return pdf.output()


def render_statement(request: NotificationRequested, *, head: Letterhead, today: dt.date) -> bytes:
    """The statement attached to e-mails: the invoices concerned and the total due."""
    locale = supported_locale(request.locale)
    pdf = _new_pdf()
    _letterhead(pdf, head)
    pdf.set_font("B", 12)
    pdf.cell(0, 7, _labels(locale)["statement"], newline=True)
    pdf.set_font("", 10)
    pdf.cell(
        0,
        6,
        f"{request.account_name} · {format_day(today, 'long', locale)}",
    )
    pdf.ln(10)
    _invoice_table(pdf, request, locale)
    return pdf.output()
