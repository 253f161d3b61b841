"""Lines are priced per currency exponent, half-up per line; totals sum rounded lines."""

import datetime as dt
from decimal import Decimal

import pytest

from invoicing.domain import (
    DEFAULT_TERMS,
    Account,
    CurrencyMismatch,
    InvalidInvoice,
    LineDraft,
    Terms,
    issue_invoice,
    price_line,
    totals,
)


def draft(quantity: str, unit_price: str, tax_rate: str) -> LineDraft:
    return LineDraft("item", Decimal(quantity), Decimal(unit_price), Decimal(tax_rate))


def account(currency: str = "EUR", terms: Terms = DEFAULT_TERMS) -> Account:
    return Account(id="acc-1", name="Acme", currency=currency, terms=terms)


@pytest.mark.parametrize(
    ("currency", "line", "net_minor", "tax_minor"),
    [
        ("EUR", draft("3", "0.335", "19"), 101, 19),  # 1.005 -> 1.01; 0.1919 -> 0.19
        ("EUR", draft("1", "10.00", "7"), 1000, 70),
        ("EUR", draft("2.5", "0.01", "19"), 3, 1),  # 0.025 -> 0.03, 0.0057 -> 0.01
        ("JPY", draft("3", "333.5", "10"), 1001, 100),  # 1000.5 -> 1001; 100.1 -> 100
        ("JPY", draft("1", "105", "8"), 105, 8),  # 8.4 -> 8
        ("KWD", draft("1", "1.2345", "5"), 1235, 62),  # 1.2345 -> 1.235; 0.06175 -> 0.062
        ("KWD", draft("7", "0.0005", "0"), 4, 0),  # 0.0035 -> 0.004
    ],
)
def test_a_line_is_rounded_half_up_to_the_currency_minor_unit(currency, line, net_minor, tax_minor):
    priced = price_line(line, currency=currency)
    assert (priced.net_minor, priced.tax_minor) == (net_minor, tax_minor)


def test_negative_half_rounds_away_from_zero():
    priced = price_line(draft("1", "-0.005", "0"), currency="EUR")
    assert priced.net_minor == -1


def test_large_quantities_times_fine_prices_stay_exact():
    priced = price_line(draft("999999999999.999999", "0.0001", "0"), currency="EUR")
    assert priced.net_minor == 10_000_000_000  # 99999999.9999... -> 100000000.00


def test_totals_are_sums_of_rounded_lines_not_rounded_sums():
    lines = [price_line(draft("1", "0.333", "19"), currency="EUR") for _ in range(3)]
    sums = totals(lines)
    assert (sums.subtotal_minor, sums.tax_total_minor, sums.total_minor) == (99, 18, 117)


def test_issuing_computes_the_due_date_and_opens_the_balance_at_the_total():
    lines = [price_line(draft("2", "50", "19"), currency="EUR")]
    invoice = issue_invoice(
        invoice_id="inv-1",
        account=account(terms=Terms("end_of_month", 10)),
        invoice_number="2025-001",
        currency="EUR",
        issue_date=dt.date(2025, 4, 12),
        lines=lines,
    )
    assert invoice.due_date == dt.date(2025, 5, 10)
    assert invoice.totals.total_minor == invoice.balance_minor == 11900
    assert invoice.status == "open"


def test_an_explicit_due_date_wins_over_the_terms():
    invoice = issue_invoice(
        invoice_id="inv-1",
        account=account(),
        invoice_number="1",
        currency="EUR",
        issue_date=dt.date(2025, 4, 12),
        due_date=dt.date(2025, 4, 20),
        lines=[price_line(draft("1", "1", "0"), currency="EUR")],
    )
    assert invoice.due_date == dt.date(2025, 4, 20)


def test_an_invoice_in_another_currency_than_the_account_is_refused():
    with pytest.raises(CurrencyMismatch, match="currency mismatch") as caught:
        issue_invoice(
            invoice_id="inv-1",
            account=account("EUR"),
            invoice_number="1",
            currency="USD",
            issue_date=dt.date(2025, 1, 1),
            lines=[price_line(draft("1", "1", "0"), currency="USD")],
        )
    assert caught.value.field == "currency"


@pytest.mark.parametrize(
    ("unit_price", "due_date", "field"),
    [
        ("-5", None, "lines"),
        ("5", dt.date(2024, 12, 31), "due_date"),
        ("99999999999999", None, "lines"),
    ],
)
def test_negative_totals_early_due_dates_and_huge_totals_are_refused(unit_price, due_date, field):
    with pytest.raises(InvalidInvoice) as caught:
        issue_invoice(
            invoice_id="inv-1",
            account=account(),
            invoice_number="1",
            currency="EUR",
            issue_date=dt.date(2025, 1, 1),
            due_date=due_date,
            lines=[price_line(draft("2", unit_price, "0"), currency="EUR")],
        )
    assert caught.value.field == field
