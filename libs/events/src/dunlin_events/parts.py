"""Frozen value objects shared by several events (terms, contacts, addresses)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dunlin_events.money import fits_currency


class Part(BaseModel):
    """Base of nested event objects: frozen and tolerant like the events themselves."""

    model_config = ConfigDict(frozen=True, extra="ignore")


# Names ZoneInfo has already accepted; bounded by the tz database (a few hundred names), so
# the hot decode path is one set lookup instead of a ZoneInfo constructor call per event.
_ACCEPTED_TIME_ZONES: set[str] = set()


def _known_time_zone(name: str) -> str:
    if name in _ACCEPTED_TIME_ZONES:
        return name
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    if type(name) is str:
        _ACCEPTED_TIME_ZONES.add(name)
    return name


CountryCode = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code, e.g. DE")
]
TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Berlin"),
    AfterValidator(_known_time_zone),
]
Locale = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        max_length=35,
        description="BCP 47 language tag, e.g. en-GB",
    ),
]
Email = Annotated[
    str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, description="E-mail")
]
PhoneNumber = Annotated[
    str, Field(pattern=r"^\+[1-9]\d{1,14}$", description="Phone number in E.164, e.g. +4930123")
]
Id = Annotated[str, Field(min_length=1, max_length=100)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class PaymentTerms(Part):
    """When an invoice falls due: net N days, or N days after the end of the issue month."""

    kind: Literal["net", "end_of_month"] = Field(
        description="`net`: issue date + days; `end_of_month`: end of the issue month + days"
    )
    days: int = Field(ge=0, le=365, description="Days added by the rule")


class PostalAddress(Part):
    """A postal address for letters and agency hand-offs."""

    lines: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=6, description="Street lines, recipient first if any"
    )
    postal_code: str | None = Field(default=None, max_length=20, description="Postal code")
    city: ShortText = Field(description="City or town")
    country: CountryCode


class ChannelConsent(Part):
    """Which channels the contact agreed to be reached on."""

    email: bool = Field(default=True, description="May receive e-mail")
    sms: bool = Field(default=False, description="May receive SMS (opt-in)")
    phone: bool = Field(default=False, description="May be called (opt-in)")
    letter: bool = Field(default=True, description="May receive postal letters")
    voice: bool = Field(default=False, description="May receive automated calls (opt-in)")


class Contact(Part):
    """A person at the customer that dunning may contact."""

    contact_id: Id = Field(description="Stable id of the contact within the account")
    name: ShortText = Field(description="Full name")
    role: Literal["accounts_payable", "finance_decision_maker", "other"] = Field(
        description="AP clerks are contacted first, finance decision makers on escalation"
    )
    email: Email | None = Field(default=None, description="E-mail address")
    phone: PhoneNumber | None = Field(default=None, description="Phone in E.164")
    postal_address: PostalAddress | None = Field(default=None, description="For letters")
    consent: ChannelConsent = Field(
        default_factory=ChannelConsent, description="Consent per channel"
    )


def check_scale(currency: str, amounts: dict[str, Decimal | None]) -> None:
    """Raise ValueError naming every amount with more decimals than the currency allows."""
    bad = [
        name
        for name, amount in amounts.items()
        if amount is not None and not fits_currency(amount, currency)
    ]
    if bad:
        raise ValueError(f"{', '.join(bad)}: more decimals than {currency} allows")


__all__ = [
    "ChannelConsent",
    "Contact",
    "CountryCode",
    "Locale",
    "PaymentTerms",
    "PostalAddress",
    "TimeZoneName",
]
