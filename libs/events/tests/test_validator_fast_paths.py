"""The cached/fast paths of the currency and time-zone validators accept and reject exactly
what the original checks do, with the same error messages."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from dunlin_events import parts
from dunlin_events.money import CURRENCY_EXPONENTS, Currency, _validate_currency


def _reference_currency(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"currency must be 3 upper-case letters (ISO 4217), got {value!r}")
    if value not in CURRENCY_EXPONENTS:
        raise ValueError(f"unknown currency {value!r}: not an active ISO 4217 code")
    return value


def _reference_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


def _outcome(fn: Any, value: Any) -> tuple[str, str]:
    try:
        return ("ok", fn(value))
    except ValueError as exc:
        return ("error", str(exc))


_currencies = st.one_of(
    st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabc1 ", max_size=5),
    st.integers(),
    st.none(),
)


@given(_currencies)
def test_currency_fast_path_matches_reference(value: Any) -> None:
    assert _outcome(_validate_currency, value) == _outcome(_reference_currency, value)
    # a second call (fast path warm) gives the same answer
    assert _outcome(_validate_currency, value) == _outcome(_reference_currency, value)


_ZONES = sorted(available_timezones())
_zones = st.one_of(
    st.sampled_from(_ZONES),
    st.sampled_from(_ZONES).map(str.lower),
    st.text(max_size=20),
    st.just("Europe/Nowhere"),
    st.just("../etc/passwd"),
)


@given(_zones)
def test_time_zone_cache_matches_reference(name: str) -> None:
    expected = _outcome(_reference_zone, name)
    assert _outcome(parts._known_time_zone, name) == expected
    assert _outcome(parts._known_time_zone, name) == expected


@pytest.mark.parametrize("name", ["Europe/Berlin", "Nope/Nowhere", ""])
def test_time_zone_cache_only_holds_accepted_names(name: str) -> None:
    ok = _outcome(_reference_zone, name)[0] == "ok"
    _outcome(parts._known_time_zone, name)
    assert (name in parts._ACCEPTED_TIME_ZONES) is ok


def _contact(contact_id: str) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "name": "Jane Doe",
        "role": "accounts_payable",
        "email": "jane@example.com",
    }


@pytest.mark.parametrize(
    ("contacts", "credit_limit", "ok"),
    [
        ([], None, True),
        ([_contact("c1")], None, True),
        ([_contact("c1"), _contact("c2")], "10.00", True),
        ([_contact("c1"), _contact("c1")], None, False),
        ([], "10.505", False),
    ],
)
def test_account_registered_consistency_fast_paths(
    contacts: list[dict[str, Any]], credit_limit: str | None, ok: bool
) -> None:
    from pydantic import ValidationError

    from dunlin_events import AccountRegistered

    data: dict[str, Any] = {
        "account_id": "a",
        "name": "n",
        "currency": "EUR",
        "payment_terms": {"kind": "net", "days": 30},
        "contacts": contacts,
        "credit_limit": credit_limit,
    }
    if ok:
        AccountRegistered.model_validate(data)
    else:
        with pytest.raises(ValidationError, match=r"unique|more decimals than EUR"):
            AccountRegistered.model_validate(data)


class _Priced(BaseModel):
    currency: Currency


@given(st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_currency_is_validated_and_serialised_as_the_plain_string(code: str) -> None:
    priced = _Priced.model_validate_json(f'{{"currency": "{code}"}}')
    assert priced.model_dump_json() == f'{{"currency":"{code}"}}'
    assert priced.model_dump() == {"currency": code}


def test_currency_serialises_without_a_python_function() -> None:
    # PlainValidator would wrap the field's serialisation in a Python call (~2x its cost).
    field = _Priced.__pydantic_core_schema__["schema"]["fields"]["currency"]["schema"]
    assert field["serialization"] == {"type": "str"}


def test_currency_refusals_name_the_value() -> None:
    with pytest.raises(ValidationError, match="got b'EUR'"):
        _Priced.model_validate({"currency": b"EUR"})
    with pytest.raises(ValidationError, match="unknown currency 'XXX'"):
        _Priced.model_validate_json('{"currency": "XXX"}')
