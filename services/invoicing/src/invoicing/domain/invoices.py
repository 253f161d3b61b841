"""Invoices: line pricing per currency exponent, totals, due dates and issue-time rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Literal

from dunlin_events import exponent, to_minor
from invoicing.domain.accounts import Account, Terms
from invoicing.domain.errors import CurrencyMismatch, InvalidInvoice
from invoicing.domain.ledger import InvoiceLedger, LedgerStatus

InvoiceStatus = LedgerStatus
InvoiceSource = Literal["api", "erp"]
INVOICE_STATUSES: tuple[InvoiceStatus, ...] = (
    "open",
    "partially_paid",
    "paid",
    "cancelled",
    "written_off",
)

# Amounts on the wire have at most 14 integer digits; totals must stay representable there.
_MAX_AMOUNT_INTEGER_DIGITS = 14
# quantity (18 digits) x unit price (18 digits) must be exact before the one rounding step.
_EXACT = Context(prec=60)


@dataclass(frozen=True, slots=True)
class LineDraft:
    """A line as the seller entered it, before Dunlin prices it."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


@dataclass(frozen=True, slots=True)
class Line:
    """A priced line: net and tax in the currency's minor units."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_minor: int
    tax_minor: int


def price_line(draft: LineDraft, *, currency: str) -> Line:
    """Net = quantity x unit price, tax = net x rate; each rounded half-up to the minor unit."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    with localcontext(_EXACT):
        net = (draft.quantity * draft.unit_price).quantize(quantum, ROUND_HALF_UP)
        # Tax on the rounded net, so the printed line adds up: net + tax = line total.
        tax = (net * draft.tax_rate / 100).quantize(quantum, ROUND_HALF_UP)
    return Line(
        description=draft.description,
        quantity=draft.quantity,
        unit_price=draft.unit_price,
        tax_rate=draft.tax_rate,
        net_minor=to_minor(net, currency),
        tax_minor=to_minor(tax, currency),
    )


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's sums in minor units."""

    subtotal_minor: int
    tax_total_minor: int

    @property
    def total_minor(self) -> int:
        """What the customer owes."""
        return self.subtotal_minor + self.tax_total_minor


def totals(lines: Sequence[Line]) -> Totals:
    """Sum the lines; totals are sums of already-rounded lines, never re-rounded."""
    return Totals(
        subtotal_minor=sum(line.net_minor for line in lines),
        tax_total_minor=sum(line.tax_minor for line in lines),
    )


@dataclass(frozen=True, slots=True)
class EarlyPaymentDiscount:
    """Percent off the total when paid within `days` of the issue date."""

    percent: Decimal
    days: int


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued invoice; its balance starts at the total (the ledger moves it later)."""

    id: str
    account_id: str
    invoice_number: str
    currency: str
    issue_date: dt.date
    due_date: dt.date
    terms: Terms
    lines: tuple[Line, ...]
    totals: Totals
    balance_minor: int
    status: InvoiceStatus = "open"
    source: InvoiceSource = "api"
    external_id: str | None = None
    early_payment_discount: EarlyPaymentDiscount | None = None
    purchase_order: str | None = None
    source_fingerprint: str | None = None
    paid_minor: int = 0
    written_off_minor: int = 0
    disputed_minor: int = 0
    settled_on: dt.date | None = None
    # Credit/debit notes and cancellation move the total away from the sum of the lines.
    total_adjustment_minor: int = 0

    @property
    def total_minor(self) -> int:
        """The total after notes: what the customer owes before payments."""
        return self.totals.total_minor + self.total_adjustment_minor

    def ledger(self) -> InvoiceLedger:
        """The invoice's money state, for the ledger rules."""
        return InvoiceLedger(
            invoice_id=self.id,
            total_minor=self.total_minor,
            paid_minor=self.paid_minor,
            written_off_minor=self.written_off_minor,
            disputed_minor=self.disputed_minor,
            status=self.status,
        )


def issue_invoice(
    *,
    invoice_id: str,
    account: Account,
    invoice_number: str,
    currency: str,
    issue_date: dt.date,
    lines: Sequence[Line],
    due_date: dt.date | None = None,
    terms: Terms | None = None,
    early_payment_discount: EarlyPaymentDiscount | None = None,
    purchase_order: str | None = None,
    external_id: str | None = None,
    source: InvoiceSource = "api",
    source_fingerprint: str | None = None,
) -> Invoice:
    """Apply the issue-time rules and return the open invoice."""
    if currency != account.currency:
        raise CurrencyMismatch(
            f"currency mismatch: invoice is in {currency}, account {account.id} is in"
            f" {account.currency}",
            field="currency",
        )
    if not lines:
        raise InvalidInvoice("an invoice needs at least one line", field="lines")
    effective_terms = terms or account.terms
    due = due_date or effective_terms.due_date(issue_date)
    if due < issue_date:
        raise InvalidInvoice("due_date must not be before issue_date", field="due_date")
    sums = totals(lines)
    if sums.subtotal_minor < 0 or sums.tax_total_minor < 0:
        raise InvalidInvoice("subtotal and tax total must not be negative", field="lines")
    limit = 10 ** (_MAX_AMOUNT_INTEGER_DIGITS + exponent(currency))
    if sums.total_minor >= limit:
        raise InvalidInvoice("the invoice total is too large", field="lines")
    # Discount lines may cancel out a huge line; each amount must still fit on the wire.
    if any(abs(line.net_minor) >= limit or abs(line.tax_minor) >= limit for line in lines):
        raise InvalidInvoice("a line amount is too large", field="lines")
    if early_payment_discount is not None and early_payment_discount.percent <= 0:
        raise InvalidInvoice(
            "an early payment discount must be more than 0 percent",
            field="early_payment_discount",
        )
    return Invoice(
        id=invoice_id,
        account_id=account.id,
        invoice_number=invoice_number,
        currency=currency,
        issue_date=issue_date,
        due_date=due,
        terms=effective_terms,
        lines=tuple(lines),
        totals=sums,
        balance_minor=sums.total_minor,
        source=source,
        external_id=external_id,
        early_payment_discount=early_payment_discount,
        purchase_order=purchase_order,
        source_fingerprint=source_fingerprint,
    )
