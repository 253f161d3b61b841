"""POST /invoices answers with JSON built without models: byte for byte what the model gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from invoicing.api.invoices import invoice_fields, invoice_json, invoice_public
from invoicing.domain import (
    DEFAULT_TERMS,
    Account,
    EarlyPaymentDiscount,
    Invoice,
    LineDraft,
    Terms,
    issue_invoice,
    price_line,
)
from invoicing.repository import Stored, as_stored
from invoicing.schemas import InvoicePublic

CREATED = dt.datetime(2026, 11, 23, 9, 30, 1, 123456, tzinfo=dt.UTC)


def invoice(currency: str, drafts: list[tuple[str, str, str]], **extra: object) -> Invoice:
    account = Account(
        id="acc-1", name="Acme", currency=currency, terms=DEFAULT_TERMS, external_id="ERP-A1"
    )
    lines = [
        price_line(LineDraft(f"item {n}", Decimal(q), Decimal(p), Decimal(r)), currency=currency)
        for n, (q, p, r) in enumerate(drafts)
    ]
    return issue_invoice(
        invoice_id=f"inv-{currency}",
        account=account,
        invoice_number="2026-0001",
        currency=currency,
        issue_date=dt.date(2026, 11, 23),
        lines=lines,
        **extra,  # type: ignore[arg-type]
    )


INVOICES = [
    invoice("EUR", [("10", "120.00", "19"), ("1", "85.5", "19")]),
    invoice("JPY", [("3", "333.5", "10")], terms=Terms("end_of_month", 15)),
    invoice("KWD", [("7", "0.0005", "0"), ("0.000001", "1", "0")], purchase_order="PO-1"),
    invoice(
        "EUR",
        [("1", "0", "0")],
        early_payment_discount=EarlyPaymentDiscount(Decimal("2.5"), 10),
        external_id="ERP-INV-9",
        due_date=dt.date(2026, 12, 1),
    ),
    invoice("EUR", [("2", "10", "7")], early_payment_discount=EarlyPaymentDiscount(Decimal(3), 0)),
]


@pytest.mark.parametrize("issued", INVOICES, ids=lambda i: i.id + str(i.early_payment_discount))
def test_the_hand_built_answer_is_what_the_validated_model_serialises(issued: Invoice) -> None:
    stored = Stored(as_stored(issued), 7, CREATED)

    validated = InvoicePublic.model_validate(invoice_fields(stored))

    assert invoice_json(stored) == validated.model_dump_json().encode()
    assert invoice_public(stored) == validated
    assert list(invoice_fields(stored)) == list(InvoicePublic.model_fields)
