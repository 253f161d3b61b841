from datetime import UTC, datetime, timedelta, timezone

import pytest

from dunlin_events import (
    InvalidMessage,
    KafkaRecord,
    MalformedMessage,
    SchemaViolation,
    UnknownEventType,
    decode,
    encode,
    encode_raw,
    new_envelope,
    peek_attributes,
)
from dunlin_events import testing as f
from dunlin_events.envelope import Envelope

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FACTORIES = [f.account_registered, f.invoice_issued, f.account_overdue, f.payment_received]


def record(**overrides: bytes | None) -> KafkaRecord:
    event = f.payment_received()
    rec = encode(new_envelope(event, source="/dunlin/payments"))
    headers = dict(rec.headers)
    for name, value in overrides.items():
        name = name.replace("_", "-") if name == "content_type" else name
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return KafkaRecord(key=rec.key, value=rec.value, headers=list(headers.items()))


@pytest.mark.parametrize("factory", FACTORIES)
def test_every_event_round_trips_through_kafka(factory):
    event = factory()
    envelope = Envelope(
        id="7f0c6a8e-4a3b-4c59-9a55-0c1c2b1e9f00",
        type=event.ce_type(),
        source="/dunlin/test",
        time=datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        subject=event.account_id,
        data=event,
        traceparent=TRACE,
    )
    rec = encode(envelope)
    assert decode(rec) == envelope
    assert rec.key == event.account_id.encode()


def test_encode_writes_binary_mode_cloudevents_headers():
    event = f.invoice_issued()
    time = datetime(2024, 1, 2, 4, 0, tzinfo=timezone(timedelta(hours=1)))
    env = new_envelope(event, source="/dunlin/invoicing", id="abc", time=time)
    headers = dict(encode(env).headers)
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": b"abc",
        "ce_source": b"/dunlin/invoicing",
        "ce_type": b"dunlin.invoicing.InvoiceIssued.v1",
        "ce_time": b"2024-01-02T03:00:00Z",
        "ce_subject": event.account_id.encode(),
        "content-type": b"application/json",
    }
    assert b'"total":"1469.06"' in encode(env).value


def test_encode_raw_matches_encode():
    env = new_envelope(f.payment_received(), source="/dunlin/payments")
    env = Envelope(**{**env.__dict__, "traceparent": TRACE})
    raw = encode_raw(
        id=env.id,
        type=env.type,
        source=env.source,
        time=env.time,
        subject=env.subject,
        data=env.data.model_dump_json().encode(),
        traceparent=TRACE,
    )
    assert raw == encode(env)
    assert ("traceparent", TRACE.encode()) in raw.headers


def test_new_envelope_fills_id_time_and_subject():
    event = f.payment_received()
    env = new_envelope(event, source="/erp/sap")
    assert len(env.id) == 36
    assert env.time.tzinfo is UTC
    assert env.subject == event.account_id


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"ce_id": None}, "missing ce_id"),
        ({"ce_type": b""}, "missing ce_type"),
        ({"ce_specversion": b"0.3"}, "specversion"),
        ({"content_type": b"text/plain"}, "content-type"),
        ({"ce_time": b"yesterday"}, "RFC 3339"),
    ],
)
def test_malformed_headers_are_rejected(overrides, match):
    with pytest.raises(MalformedMessage, match=match) as info:
        decode(record(**overrides))
    assert info.value.reason


def test_non_json_body_is_malformed():
    rec = record()
    for body in (b"\xff\xfe", b"not json", b"", b"[1, 2]"):
        with pytest.raises(MalformedMessage):
            decode(KafkaRecord(key=rec.key, value=body, headers=rec.headers))


def test_unknown_type_is_an_invalid_message():
    with pytest.raises(UnknownEventType) as info:
        decode(record(ce_type=b"dunlin.nope.Nothing.v1"))
    assert isinstance(info.value, InvalidMessage)


def test_schema_violation_names_the_fields():
    rec = record()
    body = rec.value.replace(b'"method":"bank_transfer"', b'"method":"barter"')
    with pytest.raises(SchemaViolation, match="method: Input should be") as info:
        decode(KafkaRecord(key=rec.key, value=body, headers=rec.headers))
    assert info.value.reason.startswith("method:")


def test_subject_must_match_account_id():
    with pytest.raises(SchemaViolation, match="ce_subject"):
        decode(record(ce_subject=b"someone-else"))


def test_key_must_match_account_id():
    rec = record()
    with pytest.raises(SchemaViolation, match="key"):
        decode(KafkaRecord(key=b"other", value=rec.value, headers=rec.headers))


def test_peek_attributes_reads_headers_without_validation():
    attrs = peek_attributes(record(ce_type=b"whatever", traceparent=TRACE.encode()))
    assert attrs["type"] == "whatever"
    assert attrs["traceparent"] == TRACE
    assert attrs["datacontenttype"] == "application/json"


@pytest.mark.parametrize(
    "extra",
    [
        [],
        [("x-tenant", b"t-1")],
        [("ce_partitionkey", b"acc")],
        [("CE_SUBJECT", b"someone-else")],  # the SDK lower-cases names: a later one wins
        [("Ce_Time", b"2024-01-01T00:00:00Z")],
        [("traceparent", "ü".encode())],
        [("x-bad", b"\xff")],
        [("X-Bad", b"\xff")],
    ],
)
def test_header_mapping_is_the_sdk_binding_s(extra):
    from dunlin_events import envelope

    headers = dict([*record().headers, *extra])
    try:
        expected: object = envelope._ce_attributes_via_sdk(headers)
    except MalformedMessage as exc:
        expected = ("malformed", exc.reason)
    try:
        actual: object = envelope._ce_attributes(headers)
    except MalformedMessage as exc:
        actual = ("malformed", exc.reason)
    assert actual == expected


def test_a_header_that_is_not_utf8_is_malformed():
    with pytest.raises(MalformedMessage, match="invalid CloudEvents attributes"):
        decode(record(traceparent=b"\xff\xfe"))


@pytest.mark.parametrize("factory", FACTORIES)
def test_the_inline_header_mapping_decodes_as_the_general_one(factory):
    # A header decode does not know sends the record down the general (SDK-equivalent) path.
    env = new_envelope(factory(), source="/dunlin/test")
    env = Envelope(**{**env.__dict__, "traceparent": TRACE})
    rec = encode(env)
    general = KafkaRecord(key=rec.key, value=rec.value, headers=[*rec.headers, ("x-tenant", b"t")])
    assert decode(rec) == decode(general) == env


def test_a_decoded_envelope_is_a_plain_frozen_envelope():
    import dataclasses

    env = decode(record(traceparent=TRACE.encode()))
    assert type(env) is Envelope
    assert env.traceparent == TRACE
    assert dataclasses.replace(env) == env
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.id = "other"  # type: ignore[misc]


def _outcome(rec: KafkaRecord) -> object:
    try:
        return decode(rec)
    except InvalidMessage as exc:
        return (type(exc), exc.reason)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"traceparent": TRACE.encode()},
        {"traceparent": b""},
        {"traceparent": b"\xff\xfe"},
        {"ce_id": b"\xff"},
        {"ce_type": b"dunlin.payments.\xffPaymentReceived.v1"},
        {"ce_source": "/dunlin/zahlungsverkehr/ü".encode()},
        {"ce_type": b"dunlin.nope.Nothing.v1"},
        {"ce_time": b"\xff"},
        {"ce_subject": b"someone-else"},
        {"content_type": b"application/json; charset=utf-8"},
        {"ce_specversion": b"0.3"},
        {"ce_id": b""},
    ],
)
def test_records_as_dunlin_writes_them_decode_as_any_other_layout(overrides):
    usual = record(**overrides)
    # The same headers in another order, or as an iterator: the general path.
    reordered = KafkaRecord(usual.key, usual.value, list(reversed(usual.headers)))
    streamed = KafkaRecord(usual.key, usual.value, iter(usual.headers))  # type: ignore[arg-type]
    assert _outcome(usual) == _outcome(reordered) == _outcome(streamed)


@pytest.mark.parametrize(
    "name", ["traceparent", "x-tenant", "ce_dataschema", "content-type", "ce_id", "ce_time"]
)
def test_a_header_without_a_value_counts_as_absent_on_every_path(name):
    # Kafka headers may carry a null value (aiokafka hands it over as None).
    base = record(traceparent=TRACE.encode())
    absent = KafkaRecord(base.key, base.value, [(n, v) for n, v in base.headers if n != name])
    headers = [(n, None if n == name else v) for n, v in base.headers]
    if name not in dict(base.headers):
        headers.append((name, None))
    usual = KafkaRecord(base.key, base.value, headers)  # type: ignore[arg-type]
    streamed = KafkaRecord(base.key, base.value, iter(headers))  # type: ignore[arg-type]
    assert _outcome(usual) == _outcome(streamed) == _outcome(absent)
    assert peek_attributes(usual) == peek_attributes(absent)


def test_a_null_traceparent_does_not_hide_the_error_of_another_header():
    base = record(ce_id=b"\xff")
    headers = [*base.headers, ("traceparent", None)]
    usual = KafkaRecord(base.key, base.value, headers)  # type: ignore[arg-type]
    assert _outcome(usual) == _outcome(base)
    assert _outcome(usual)[0] is MalformedMessage  # type: ignore[index]
