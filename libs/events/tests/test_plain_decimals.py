"""`decimals._plain`: the plain-notation text of a decimal, whatever its exponent."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from dunlin_events.decimals import Quantity, _plain


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_plain_is_format_f_for_any_finite_decimal(value: Decimal) -> None:
    assert _plain(value) == format(value, "f")


@given(st.integers(-(10**20), 10**20), st.integers(-30, 30))
def test_plain_is_format_f_for_any_exponent(coefficient: int, exponent: int) -> None:
    value = Decimal(coefficient).scaleb(exponent)
    assert _plain(value) == format(value, "f")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("-0"), "-0"),
        (Decimal("0E-6"), "0.000000"),
        (Decimal("1234.50"), "1234.50"),
        (Decimal("-2.5E+3"), "-2500"),
    ],
)
def test_plain_never_writes_an_exponent(value: Decimal, text: str) -> None:
    assert _plain(value) == text


def test_plain_is_unchanged_by_a_lower_case_context() -> None:
    with decimal.localcontext() as context:
        context.capitals = 0
        assert _plain(Decimal("1E+2")) == "100"
        assert _plain(Decimal("1E-9")) == "0.000000001"


def test_events_serialise_decimals_in_plain_notation() -> None:
    adapter = TypeAdapter(Quantity)
    assert adapter.dump_json(Decimal("1E+2")) == b'"100"'
    assert adapter.dump_json(Decimal("2.500000")) == b'"2.500000"'
