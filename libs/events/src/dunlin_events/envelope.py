"""CloudEvents 1.0 binary mode on Kafka: Envelope <-> KafkaRecord via the SDK's binding."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from dunlin_events.base import Event, event_class
from dunlin_events.errors import MalformedMessage, SchemaViolation, UnknownEventType

E = TypeVar("E", bound=Event)
# Covariant: an Envelope[InvoiceIssued] is an Envelope[Event] (the dataclass is frozen).
E_co = TypeVar("E_co", bound=Event, covariant=True)

CONTENT_TYPE = "application/json"
_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()
TRACEPARENT = "traceparent"
_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
# The headers encode_raw writes, in its order (traceparent last, when there is one).
_USUAL_NAMES = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "content-type",
    TRACEPARENT,
)
_USUAL_COUNT = len(_USUAL_NAMES) - 1
# Header names the SDK's binding maps one to one (already lower case): see _ce_attributes.
_PLAIN_HEADERS = frozenset(
    {*_REQUIRED, "ce_datacontenttype", "ce_dataschema", "content-type", TRACEPARENT}
)


@dataclass(frozen=True)
class KafkaRecord:
    """A Kafka record as aiokafka sends and receives it."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope(Generic[E_co]):
    """A Dunlin event with its CloudEvents context attributes."""

    id: str
    type: str
    source: str
    time: datetime
    subject: str
    data: E_co
    traceparent: str | None = None


class _RawJSONFormat(JSONFormat):
    """JSON format that passes the body through as bytes; pydantic parses it once, later."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body


_FORMAT = _RawJSONFormat()
_new_object = object.__new__


def new_envelope(
    event: E, *, source: str, id: str | None = None, time: datetime | None = None
) -> Envelope[E]:
    """Wrap an event in a fresh envelope (uuid4 id, current UTC time, subject = account)."""
    return Envelope(
        id=id or str(uuid.uuid4()),
        type=event.ce_type(),
        source=source,
        time=_utc(time) if time is not None else datetime.now(UTC),
        subject=event.key(),
        data=event,
    )


def encode(envelope: Envelope[Any]) -> KafkaRecord:
    """Serialise an envelope to a binary-mode CloudEvents Kafka record."""
    event: Event = envelope.data
    if envelope.subject != event.account_id:
        raise ValueError(f"subject {envelope.subject!r} is not account_id {event.account_id!r}")
    return encode_raw(
        id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        time=envelope.time,
        subject=envelope.subject,
        data=event.__pydantic_serializer__.to_json(event),
        traceparent=envelope.traceparent,
    )


def _subject_key(event: Any) -> str:
    return str(event.get_subject())


def encode_raw(
    *,
    id: str,
    type: str,
    source: str,
    time: datetime,
    subject: str,
    data: bytes,
    traceparent: str | None,
) -> KafkaRecord:
    """Build the record from already-serialised event JSON (no re-validation)."""
    attributes = {
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": type,
        "time": _utc(time),
        "subject": subject,
        "datacontenttype": CONTENT_TYPE,
    }
    try:
        message = to_binary(CloudEvent(attributes, data), _FORMAT, _subject_key)
    except BaseCloudEventException as exc:
        raise ValueError(str(exc)) from exc
    headers = list(message.headers.items())
    if traceparent:
        # Plain W3C header, so OpenTelemetry's Kafka propagators find it unchanged.
        headers.append((TRACEPARENT, traceparent.encode()))
    return KafkaRecord(key=subject.encode(), value=message.value, headers=headers)


def decode(record: KafkaRecord) -> Envelope[Event]:
    """Parse and validate a record; raises a subclass of InvalidMessage."""
    return decode_parts(record.key, record.value, record.headers)


def decode_parts(
    key: bytes | None, value: bytes | None, raw_headers: Iterable[tuple[str, bytes]]
) -> Envelope[Event]:
    """`decode` of a record's parts as aiokafka hands them over (None for an empty key/value).

    This is every consumer's hot path. Records laid out as Dunlin's producers write them
    (encode_raw: the same headers in the same order, `application/json`) are checked and
    mapped inline, without building a dict of the headers; any other record takes the
    general path. Both reach the same outcome, errors included.
    """
    usual = False
    if type(raw_headers) is tuple or type(raw_headers) is list:
        count = len(raw_headers)
        if count == _USUAL_COUNT:
            (
                (n0, specversion),
                (n1, ce_id),
                (n2, source),
                (n3, ce_type),
                (n4, ce_time),
                (n5, subject),
                (n6, content_type),
            ) = raw_headers
            n7, trace = TRACEPARENT, None
        elif count == _USUAL_COUNT + 1:
            (
                (n0, specversion),
                (n1, ce_id),
                (n2, source),
                (n3, ce_type),
                (n4, ce_time),
                (n5, subject),
                (n6, content_type),
                (n7, trace),
            ) = raw_headers
        if count == _USUAL_COUNT or count == _USUAL_COUNT + 1:
            usual = bool(
                (n0, n1, n2, n3, n4, n5, n6, n7) == _USUAL_NAMES
                and specversion == b"1.0"
                and content_type == _CONTENT_TYPE_BYTES
                and ce_id
                and source
                and ce_type
                and ce_time
                and subject
            )
    if usual:
        try:
            time = datetime.fromisoformat(ce_time.decode())
        except (ValueError, UnicodeDecodeError):
            time = _parse_time(ce_time)  # raises the MalformedMessage for these bytes
        if time.tzinfo is not UTC:  # producers write UTC; anything else the general way
            time = _parse_time(ce_time)
        try:
            # What the SDK's binding does with these headers: a strict UTF-8 decode of each.
            known = _KNOWN_TYPES[ce_type]
            type_, validator = (ce_type.decode(), None) if known is None else known
            id_, source_, subject_ = ce_id.decode(), source.decode(), subject.decode()
            traceparent = trace.decode() if trace else None
        except UnicodeDecodeError as exc:
            _ce_attributes(_present(raw_headers))  # raises the SDK's error for these bytes
            raise MalformedMessage(f"invalid CloudEvents attributes: {exc}") from exc
    else:
        headers = _present(raw_headers)
        get = headers.get
        specversion, ce_id, source, ce_type, ce_time, subject = (
            get("ce_specversion"),
            get("ce_id"),
            get("ce_source"),
            get("ce_type"),
            get("ce_time"),
            get("ce_subject"),
        )
        if not (specversion and ce_id and source and ce_type and ce_time and subject):
            missing = [name for name in _REQUIRED if not headers.get(name)]
            raise MalformedMessage(f"not a binary-mode CloudEvent: missing {', '.join(missing)}")
        if specversion != b"1.0":
            raise MalformedMessage(f"unsupported ce_specversion {specversion!r}")
        content_type = headers.get("content-type", b"").split(b";")[0].strip()
        if content_type != _CONTENT_TYPE_BYTES:
            raise MalformedMessage(f"content-type must be {CONTENT_TYPE}, got {content_type!r}")
        time = _parse_time(ce_time)
        attributes = _ce_attributes(headers)
        type_, subject_ = attributes["type"], attributes["subject"]
        id_, source_ = attributes["id"], attributes["source"]
        validator = None
        trace = get(TRACEPARENT)
        traceparent = trace.decode("utf-8", "replace") if trace else None
    if validator is None:
        validator = event_class(type_).__pydantic_validator__
    try:
        # model_validate_json without its Python wrapper (the same validator, same defaults).
        data: Event = validator.validate_json(value or b"")
    except ValidationError as exc:
        raise _invalid_body(exc) from exc
    account_id = data.account_id
    if subject_ != account_id:
        raise SchemaViolation(f"ce_subject {subject_!r} does not match account_id")
    # The usual path compares the subject's bytes: equal to the key's UTF-8 when it matches.
    if key and key != (subject if usual else account_id.encode()):
        raise SchemaViolation("Kafka key does not match account_id")
    # What the frozen dataclass's __init__ does, without its per-field object.__setattr__.
    envelope: Envelope[Event] = _new_object(Envelope)
    fields = envelope.__dict__
    fields["id"] = id_
    fields["type"] = type_
    fields["source"] = source_
    fields["time"] = time
    fields["subject"] = subject_
    fields["data"] = data
    fields["traceparent"] = traceparent
    return envelope


def _present(raw_headers: Iterable[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """The headers by name; one with a null value (Kafka allows it) counts as not sent."""
    return {name: value for name, value in raw_headers if value is not None}


class _KnownTypes(dict[bytes, tuple[str, Any] | None]):
    """ce_type header value -> (type, its event class's validator), for registered types.

    Filled on first sight of each type, so bounded by the registry; an unknown type maps to
    None and is not stored.
    """

    def __missing__(self, ce_type: bytes) -> tuple[str, Any] | None:
        try:
            cls = event_class(ce_type.decode())
        except (UnknownEventType, UnicodeDecodeError):
            return None
        known = self[ce_type] = (cls.ce_type(), cls.__pydantic_validator__)
        return known


_KNOWN_TYPES = _KnownTypes()


def _ce_attributes(headers: dict[str, bytes]) -> dict[str, Any]:
    """The CloudEvents attributes of the headers (all but ce_time), as the SDK maps them.

    The common case (header names already lower case, as every producer writes them) is
    mapped here directly: the SDK's binding decodes every header value as strict UTF-8 and
    strips the `ce_` prefix, which is all this does. Any other header name (where the SDK's
    lower-casing could merge or re-map headers) goes through the SDK's binding itself, so
    the outcome is the SDK's in every case.
    """
    if headers.keys() <= _PLAIN_HEADERS and b"".join(headers.values()).isascii():
        # What every Dunlin producer writes: nothing to merge, nothing that fails to decode.
        return {
            ("datacontenttype" if name == "content-type" else name[3:]): value.decode()
            for name, value in headers.items()
            if name != "ce_time" and name != TRACEPARENT
        }
    attributes: dict[str, Any] = {}
    try:
        for name, value in headers.items():
            if name == "ce_time":
                continue
            if name.lower() != name:
                return _ce_attributes_via_sdk(headers)
            text = value.decode("utf-8")
            if name.startswith("ce_"):
                attributes[name[3:]] = text
            elif name == "content-type":
                attributes["datacontenttype"] = text
    except ValueError as exc:  # UnicodeDecodeError, as the SDK raises it
        raise MalformedMessage(f"invalid CloudEvents attributes: {exc}") from exc
    return attributes


def _ce_attributes_via_sdk(headers: dict[str, bytes]) -> dict[str, Any]:
    # ce_time is parsed natively by decode() and the attributes are taken as a plain dict,
    # because dateutil's parser and the CloudEvent constructor's checks tripled the cost of
    # the consumer's hot path.
    try:
        return from_binary(  # type: ignore[return-value]
            KafkaMessage(
                headers={k: v for k, v in headers.items() if k != "ce_time"}, key=None, value=b""
            ),
            _FORMAT,
            _attributes_only,  # type: ignore[arg-type]
        )
    except (BaseCloudEventException, ValueError) as exc:
        raise MalformedMessage(f"invalid CloudEvents attributes: {exc}") from exc


def _attributes_only(attributes: dict[str, Any], data: Any) -> dict[str, Any]:
    """An event factory for the SDK's binding that keeps just the attributes."""
    return attributes


def _parse_time(raw: bytes) -> datetime:
    try:
        time = datetime.fromisoformat(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"ce_time is not an RFC 3339 timestamp: {raw!r}") from exc
    if time.tzinfo is None:
        raise MalformedMessage("ce_time must be an RFC 3339 timestamp with an offset")
    return time.astimezone(UTC)


def _invalid_body(exc: ValidationError) -> MalformedMessage | SchemaViolation:
    errors = exc.errors(include_url=False, include_input=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return MalformedMessage(f"body is not valid JSON: {errors[0]['msg']}")
    if any(err["type"] == "model_type" and not err["loc"] for err in errors):
        return MalformedMessage("body is not a JSON object")
    return SchemaViolation(summarise(errors))


def summarise(errors: list[Any]) -> str:
    """Pydantic errors as 'field.path: message; ...'."""
    parts = []
    for err in errors:
        path = ".".join(str(part) for part in err["loc"]) or "(body)"
        parts.append(f"{path}: {err['msg']}")
    return "; ".join(parts)


def peek_attributes(record: KafkaRecord) -> dict[str, str]:
    """The record's CloudEvents attributes as text, without any validation (for DLQ headers)."""
    attributes: dict[str, str] = {}
    for name, value in record.headers:
        if value is None:  # a null header value: as if the header were not there
            continue
        lowered = name.lower()
        if lowered.startswith("ce_"):
            attributes[lowered[3:]] = value.decode("utf-8", "replace")
        elif lowered == "content-type":
            attributes["datacontenttype"] = value.decode("utf-8", "replace")
        elif lowered == TRACEPARENT:
            attributes[TRACEPARENT] = value.decode("utf-8", "replace")
    return attributes


def _utc(time: datetime) -> datetime:
    if time.tzinfo is None:
        raise ValueError("envelope time must be timezone-aware")
    return time.astimezone(UTC)


__all__ = [
    "Envelope",
    "KafkaRecord",
    "decode",
    "decode_parts",
    "encode",
    "encode_raw",
    "new_envelope",
    "peek_attributes",
]
