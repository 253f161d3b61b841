"""InvoiceIssued is built without re-validation; it must be exactly what validation gives.

Any invoice the issue rules accept (from the HTTP schema's range of input, or from an ERP
event) must produce an event that validates against the contract model, compares equal to
the validated model and serialises to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from dunlin_events import InvoiceIssued
from invoicing import messages
from invoicing.domain import (
    Account,
    DomainError,
    EarlyPaymentDiscount,
    Invoice,
    LineDraft,
    Terms,
    issue_invoice,
    price_line,
)
from invoicing.ingest import fingerprint


def decimals(int_digits: int, places: int, *, signed: bool) -> st.SearchStrategy[Decimal]:
    bound = Decimal(10**int_digits) - Decimal(1).scaleb(-places)
    return st.decimals(
        min_value=-bound if signed else Decimal(0), max_value=bound, places=places
    ) | st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("19"), Decimal("120.00")])


terms = st.builds(Terms, st.sampled_from(["net", "end_of_month"]), st.integers(0, 365))
drafts = st.builds(
    LineDraft,
    st.text(min_size=1, max_size=20),
    decimals(12, 6, signed=False).filter(lambda q: q > 0),
    decimals(14, 4, signed=True),
    decimals(3, 4, signed=False).filter(lambda r: r <= 100),
)
discounts = st.none() | st.builds(
    EarlyPaymentDiscount,
    decimals(3, 4, signed=False).filter(lambda p: p <= 100),
    st.integers(0, 365),
)
ids = st.none() | st.text(min_size=1, max_size=100)


@st.composite
def issued(draw: st.DrawFn) -> tuple[Invoice, Account] | None:
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD", "USD"]))
    account = Account(
        id="acc-1",
        name="Acme",
        currency=currency,
        terms=draw(terms),
        external_id=draw(ids),
    )
    issue_date = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 800)))
    try:
        invoice = issue_invoice(
            invoice_id="inv-1",
            account=account,
            invoice_number=draw(st.text(min_size=1, max_size=100)),
            currency=currency,
            issue_date=issue_date,
            lines=[price_line(d, currency=currency) for d in draw(st.lists(drafts, min_size=1))],
            due_date=draw(st.none() | st.just(issue_date + dt.timedelta(days=7))),
            terms=draw(st.none() | terms),
            early_payment_discount=draw(discounts),
            purchase_order=draw(ids),
            external_id=draw(ids),
        )
    except DomainError:
        return None  # refused with a 422: no event
    return invoice, account


@settings(max_examples=400, deadline=None)
@given(issued())
def test_an_accepted_invoice_gives_the_event_validation_would_give(
    case: tuple[Invoice, Account] | None,
) -> None:
    if case is None:
        return
    invoice, account = case

    built = messages.invoice_issued(invoice, account)
    validated = InvoiceIssued.model_validate(built.model_dump())

    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    # What model_construct would have set up besides the values (messages._trusted).
    for made, expected in [(built, validated), *zip(built.lines, validated.lines, strict=True)]:
        assert list(made.__dict__) == list(expected.__dict__)
        assert made.model_fields_set == expected.model_fields_set
        assert (made.__pydantic_extra__, made.__pydantic_private__) == (None, None)


def test_a_typical_invoice_event_is_unchanged_by_validation() -> None:
    account = Account(id="acc-1", name="Acme", currency="EUR", terms=Terms("net", 30))
    lines = [
        price_line(
            LineDraft("Consulting", Decimal("10"), Decimal("120.00"), Decimal("19")), currency="EUR"
        ),
        price_line(
            LineDraft("Travel", Decimal("1"), Decimal("85.5"), Decimal("19")), currency="EUR"
        ),
    ]
    invoice = issue_invoice(
        invoice_id="inv-1",
        account=account,
        invoice_number="2026-1",
        currency="EUR",
        issue_date=dt.date(2026, 11, 23),
        lines=lines,
        terms=Terms("end_of_month", 10),
        early_payment_discount=EarlyPaymentDiscount(Decimal("2"), 10),
    )

    built = messages.invoice_issued(invoice, account)

    assert built == InvoiceIssued.model_validate_json(built.model_dump_json())
    assert built.payment_terms is not None
    assert built.payment_terms.kind == "end_of_month"
    assert built.total == Decimal("1529.75")


def test_a_model_the_trusted_constructor_cannot_build_is_refused_at_import() -> None:
    class Aliased(BaseModel):
        value: int = Field(alias="v")

    messages._check_trusted(InvoiceIssued)
    with pytest.raises(TypeError, match="Aliased"):
        messages._check_trusted(Aliased)


def test_the_erp_fingerprint_is_the_hash_of_the_event_as_json() -> None:
    account = Account(id="acc-1", name="Acme", currency="EUR", terms=Terms("net", 30))
    line = price_line(
        LineDraft("Consulting", Decimal("10"), Decimal("120.00"), Decimal("19")), currency="EUR"
    )
    invoice = issue_invoice(
        invoice_id="inv-1",
        account=account,
        invoice_number="2026-1",
        currency="EUR",
        issue_date=dt.date(2026, 11, 23),
        lines=[line],
    )
    event = messages.invoice_issued(invoice, account)

    # Stored fingerprints decide what is a re-send: the hash must never change.
    assert fingerprint(event) == hashlib.sha256(event.model_dump_json().encode()).hexdigest()
