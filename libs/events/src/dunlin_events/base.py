"""The Event base class and the registry of every concrete event type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from dunlin_events.errors import UnknownEventType

_REGISTRY: dict[str, type[Event]] = {}


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalised to UTC (RFC 3339 with "Z" in JSON)."""

AccountId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description=(
            "Customer account id: the Kafka key and the CloudEvents subject. Dunlin's id on"
            " `<service>.events`; the ERP's own account id on `erp.*` topics."
        ),
    ),
]


class Event(BaseModel):
    """Base of every Dunlin event: frozen, keyed by the customer account."""

    # Tolerant reader: a consumer on an older contract ignores fields added since, so adding
    # an optional field never breaks running consumers (the compatibility check allows it).
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_name: ClassVar[str]
    version: ClassVar[int]
    producer: ClassVar[str]

    account_id: AccountId

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Only classes that name themselves completely are concrete events.
        if all(name in cls.__dict__ for name in ("event_name", "version")) and hasattr(
            cls, "producer"
        ):
            _register(cls)

    @classmethod
    def ce_type(cls) -> str:
        """CloudEvents type, e.g. dunlin.invoicing.InvoiceIssued.v1."""
        return f"dunlin.{cls.producer}.{cls.event_name}.v{cls.version}"

    @classmethod
    def topic(cls) -> str:
        """The topic its producing service publishes it on."""
        return f"{cls.producer}.events"

    def key(self) -> str:
        """Kafka key: the customer account id, so an account's events stay ordered."""
        return self.account_id


def _register(cls: type[Event]) -> None:
    ce_type = cls.ce_type()
    known = _REGISTRY.get(ce_type)
    # Re-importing the same module (e.g. under a test runner) is not a clash.
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise TypeError(f"{ce_type} is declared twice: {known.__qualname__} and {cls.__qualname__}")
    _REGISTRY[ce_type] = cls


def event_class(ce_type: str) -> type[Event]:
    """The event class for a CloudEvents type; raises UnknownEventType."""
    try:
        return _REGISTRY[ce_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {ce_type!r}") from None


def all_events() -> tuple[type[Event], ...]:
    """Every registered event class, sorted by CloudEvents type."""
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))
