from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from dunlin_events.money import (
    CURRENCY_EXPONENTS,
    Amount,
    Currency,
    MoneyError,
    NonNegativeAmount,
    exponent,
    from_minor,
    minor_text,
    split,
    to_minor,
)

amounts = TypeAdapter(Amount)
currencies = TypeAdapter(Currency)


@pytest.mark.parametrize(
    ("code", "exp"),
    [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("BHD", 3), ("OMR", 3), ("JOD", 3),
     ("TND", 3), ("LYD", 3), ("IQD", 3), ("CLF", 4), ("KRW", 0), ("ISK", 0)],
)  # fmt: skip
def test_exponent_follows_iso_4217(code, exp):
    assert exponent(code) == exp == CURRENCY_EXPONENTS[code]


def test_unknown_currency_is_a_clear_error():
    with pytest.raises(MoneyError, match="unknown currency 'XYZ'"):
        exponent("XYZ")
    with pytest.raises(ValidationError, match="unknown currency"):
        currencies.validate_python("XYZ")
    with pytest.raises(ValidationError, match="3 upper-case letters"):
        currencies.validate_python("eur")


def test_amount_accepts_strings_and_ints_and_serialises_as_string():
    assert amounts.validate_python("1234.50") == Decimal("1234.50")
    assert amounts.validate_python(12) == Decimal(12)
    assert amounts.validate_json('"-1.5"') == Decimal("-1.5")
    assert amounts.dump_json(Decimal("1234.50")) == b'"1234.50"'
    assert amounts.dump_json(Decimal("1E+3")) == b'"1000"'


@pytest.mark.parametrize(
    "bad", [1.5, "NaN", "Infinity", "1e5", Decimal("NaN"), Decimal("Inf"), "x"]
)
def test_amount_rejects_floats_nan_and_infinities(bad):
    with pytest.raises(ValidationError):
        amounts.validate_python(bad)


def test_amount_rejects_json_numbers():
    with pytest.raises(ValidationError, match="decimal string"):
        amounts.validate_json("12.5")


def test_amount_json_schema_is_a_string_pattern():
    schema = amounts.json_schema(mode="serialization")
    assert schema["type"] == "string"
    assert "pattern" in schema


def test_to_minor_and_from_minor():
    assert to_minor(Decimal("1234.50"), "EUR") == 123450
    assert to_minor(Decimal("1234.5"), "EUR") == 123450
    assert to_minor(Decimal("7"), "JPY") == 7
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    assert from_minor(123450, "EUR") == Decimal("1234.50")
    assert str(from_minor(123450, "EUR")) == "1234.50"
    assert str(from_minor(5, "KWD")) == "0.005"
    assert str(from_minor(5, "JPY")) == "5"


def test_to_minor_never_rounds():
    with pytest.raises(MoneyError, match="more decimals than EUR"):
        to_minor(Decimal("1.005"), "EUR")
    with pytest.raises(MoneyError):
        to_minor(Decimal("1.5"), "JPY")


@given(st.sampled_from(sorted(CURRENCY_EXPONENTS)), st.integers(-(10**13), 10**13))
def test_minor_round_trips_for_every_currency(code, minor):
    amount = from_minor(minor, code)
    assert to_minor(amount, code) == minor
    assert amounts.validate_json(amounts.dump_json(amount)) == amount


def test_split_largest_remainder():
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(-100, [1, 1, 1]) == [-34, -33, -33]
    assert split(10, [0, 1, 1]) == [0, 5, 5]
    assert split(0, [1, 2]) == [0, 0]


def test_split_rejects_bad_weights():
    with pytest.raises(MoneyError, match="all weights are zero"):
        split(100, [0, 0])
    with pytest.raises(MoneyError, match="empty"):
        split(100, [])
    with pytest.raises(MoneyError, match="negative"):
        split(100, [1, -1])


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(any),
)
def test_split_never_loses_a_cent(total, weights):
    parts = split(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        if weight == 0:
            assert part == 0
        exact = total * weight / sum(weights)
        assert abs(part - exact) < 1


@given(
    minor=st.integers(min_value=-(10**17), max_value=10**17),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_minor_text_is_how_an_amount_serialises(minor, currency):
    text = minor_text(minor, currency)
    assert text == amounts.dump_python(from_minor(minor, currency), mode="json")
    assert to_minor(Decimal(text), currency) == minor


def test_minor_text_examples_and_refusals():
    assert [minor_text(m, c) for m, c in [(-1230, "EUR"), (7, "JPY"), (5, "KWD"), (0, "EUR")]] == [
        "-12.30",
        "7",
        "0.005",
        "0.00",
    ]
    with pytest.raises(MoneyError):
        minor_text(True, "EUR")
    with pytest.raises(MoneyError):
        minor_text(1, "XXX")


@pytest.mark.parametrize("text", ["-0", "-0.00", "-0.0000"])
def test_a_non_negative_amount_never_serialises_a_minus_sign(text):
    import re

    non_negative = TypeAdapter(NonNegativeAmount)
    pattern = non_negative.json_schema(mode="serialization")["pattern"]
    for value in (non_negative.validate_json(f'"{text}"'), non_negative.validate_python(text)):
        assert value == 0
        assert re.fullmatch(pattern, non_negative.dump_python(value, mode="json"))


@pytest.mark.parametrize(
    "text",
    [
        "\u0661\u0662\u0663",  # Arabic-Indic 123
        "\uff11\uff12.\uff15\uff10",  # full-width 12.50
        "1\u0662.00",
        "12.\u0665",
    ],
)
def test_an_amount_takes_ascii_digits_only(text):
    # Decimal() reads any Unicode digit; the published pattern's \d means 0-9.
    with pytest.raises(ValidationError, match="decimal string"):
        amounts.validate_json(f'"{text}"')
    with pytest.raises(ValidationError, match="decimal string"):
        amounts.validate_python(text)
