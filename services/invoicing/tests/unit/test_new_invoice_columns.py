"""`_columns`: the arrays of the new-invoice insert, one value per invoice and per line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from invoicing.domain import (
    EarlyPaymentDiscount,
    Invoice,
    Line,
    Terms,
    issue_invoice,
    placeholder_account,
)
from invoicing.repository.new_invoices import (
    _ARRAYS,
    _INSERTS,
    _INVOICE_ARRAYS,
    _JOINABLE,
    _LINE_ARRAYS,
    _columns,
)

ACCOUNT = placeholder_account(account_id="a1", external_id="C1", currency="EUR", terms=None)
LINE = Line("Goods", Decimal("2"), Decimal("50.00"), Decimal("19"), 10000, 1900)


def _invoice(n: int, lines: list[Line], discount: EarlyPaymentDiscount | None = None) -> Invoice:
    return issue_invoice(
        invoice_id=f"i{n}",
        account=ACCOUNT,
        invoice_number=f"N{n}",
        currency="EUR",
        issue_date=dt.date(2026, 11, 1),
        terms=Terms("net", 30),
        lines=lines,
        early_payment_discount=discount,
        external_id=f"E{n}",
        source="erp",
    )


def test_one_value_per_invoice_and_per_line_in_order() -> None:
    second = Line("Service", Decimal("1E+1"), Decimal("0.0125"), Decimal("7.5"), 13, 1)
    invoices = [
        _invoice(1, [LINE, second], EarlyPaymentDiscount(percent=Decimal("2.5"), days=10)),
        _invoice(2, [LINE]),
    ]
    erp_time = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    columns = _columns(invoices, {"i2": erp_time})
    assert set(columns) == set(_ARRAYS)
    assert all(len(columns[name]) == 2 for name in _INVOICE_ARRAYS)
    assert all(len(columns[name]) == 3 for name in _LINE_ARRAYS)
    assert columns["id"] == ["i1", "i2"]
    assert columns["discount_percent"] == ["2.5", None]
    assert columns["discount_days"] == [10, None]
    assert columns["erp_event_time"] == [None, erp_time]
    assert columns["line_invoice_id"] == ["i1", "i1", "i2"]
    assert columns["line_no"] == [1, 2, 1]
    # Numerics travel as text that PostgreSQL's numeric input reads back to the same value.
    assert [Decimal(q) for q in columns["quantity"]] == [Decimal(2), Decimal(10), Decimal(2)]
    assert columns["unit_price"] == ["50.00", "0.0125", "50.00"]


def test_no_invoices_give_empty_arrays() -> None:
    assert _columns([], {}) == {name: [] for name in _ARRAYS}


def test_joined_statements_split_the_texts_and_the_array_ones_do_not() -> None:
    for skip in (False, True):
        joined, arrays = _INSERTS[skip, True], _INSERTS[skip, False]
        # Every text and numeric column is split from one text; ints and dates stay arrays.
        assert joined.count("string_to_array(") == len(_JOINABLE)
        assert "string_to_array(" not in arrays
        assert joined.count("::date[]") == arrays.count("::date[]") > 0
