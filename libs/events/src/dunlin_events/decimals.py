"""Decimals that travel as plain decimal strings in JSON and never as floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

# ASCII digits only: Decimal() also reads any other Unicode digit ("١٢٣" is 123).
_LAX_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _plain(value: Decimal) -> str:
    """The decimal in plain notation (never an exponent), as `format(value, "f")` writes it.

    Serialisation calls this for every decimal of every event (16 times per ERP invoice), so
    it takes `str` when that is already plain: about a quarter of `format`'s CPU, and the
    same text whenever `str` writes no exponent (exponent <= 0 and at most 6 leading zeros).
    """
    text = str(value)
    if "E" in text or "e" in text:
        return format(value, "f")
    return text


@dataclass(frozen=True)
class DecimalString:
    """Annotated marker: a bounded Decimal, canonical JSON form '-?d{1,N}(.d{1,M})?'."""

    int_digits: int
    frac_digits: int
    signed: bool
    what: str

    @property
    def pattern(self) -> str:
        """The canonical form as a JSON Schema regular expression."""
        sign = "-?" if self.signed else ""
        return rf"^{sign}\d{{1,{self.int_digits}}}(\.\d{{1,{self.frac_digits}}})?$"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> cs.CoreSchema:
        python = cs.no_info_plain_validator_function(self.validate)
        # Decoding is hot: canonical JSON strings are checked and converted in pydantic-core,
        # and only odd input reaches the Python validator for a precise error.
        # The pattern's \d is 0-9 in JSON Schema but any Unicode digit in pydantic-core.
        ascii_pattern = self.pattern.replace(r"\d", "[0-9]")
        native = cs.chain_schema([cs.str_schema(pattern=ascii_pattern), cs.decimal_schema()])
        json = cs.union_schema(
            [native, python],
            mode="left_to_right",
            custom_error_type="decimal_string",
            custom_error_message=(
                f"{self.what} must be a {'' if self.signed else 'non-negative '}decimal string"
                f" with at most {self.int_digits} integer digits and {self.frac_digits}"
                " decimals, like '1234.50' (never a number)"
            ),
        )
        return cs.json_or_python_schema(
            json_schema=json,
            python_schema=python,
            serialization=cs.plain_serializer_function_ser_schema(
                _plain, return_schema=cs.str_schema(), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": self.pattern}

    def validate(self, value: Any) -> Decimal:
        """Accept decimal strings, ints and finite Decimals; refuse floats and lost digits."""
        # Floats are refused outright: by the time we see one, the cents may already be wrong.
        if isinstance(value, bool | float):
            raise ValueError(f"{self.what} must be a decimal string, not a float: {value!r}")
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, str):
            if not _LAX_DECIMAL.fullmatch(value):
                raise ValueError(
                    f"{self.what} must be a decimal string like '1234.50', got {value!r}"
                )
            number = Decimal(value)
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{self.what} must be finite, got {value!r}")
            number = value
        else:
            raise ValueError(f"{self.what} must be a decimal string, got {type(value).__name__}")
        exp = number.as_tuple().exponent
        if isinstance(exp, int) and exp < -self.frac_digits:
            # Trailing zeros beyond the limit are harmless; real extra digits are not.
            trimmed = number.quantize(Decimal(1).scaleb(-self.frac_digits))
            if trimmed != number:
                raise ValueError(
                    f"{self.what} has more than {self.frac_digits} decimal places: {value!r}"
                )
            number = trimmed
        if abs(number) >= 10**self.int_digits:
            raise ValueError(f"{self.what} has more than {self.int_digits} integer digits")
        if not self.signed and number.is_signed():
            if number:
                raise ValueError(f"{self.what} must not be negative: {value!r}")
            number = number.copy_abs()  # -0 is zero: written as "0", as its pattern requires
        return number


def _at_most_100(value: Decimal) -> Decimal:
    if value > 100:
        raise ValueError(f"percent must be between 0 and 100, got {value}")
    return value


Quantity = Annotated[Decimal, DecimalString(12, 6, signed=False, what="quantity")]
"""A non-negative decimal quantity, e.g. hours or units on an invoice line."""

Percent = Annotated[
    Decimal, DecimalString(3, 4, signed=False, what="percent"), AfterValidator(_at_most_100)
]
"""A percentage between 0 and 100 as a decimal string ("19", "2.5")."""
