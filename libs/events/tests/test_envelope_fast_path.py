"""The inline decoding of records laid out as Dunlin writes them equals the general path."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dunlin_events import InvalidMessage, KafkaRecord, decode, encode, new_envelope
from dunlin_events import testing as f

TRACE = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _base() -> KafkaRecord:
    return encode(new_envelope(f.payment_received(), source="/dunlin/payments"))


BASE = _base()
ACCOUNT = dict(BASE.headers)["ce_subject"]
TYPE = dict(BASE.headers)["ce_type"]

texts = st.text(max_size=12).map(str.encode)
raw_bytes = st.binary(max_size=12)
times = st.one_of(
    st.sampled_from(
        [
            b"2024-01-02T03:04:05.123456+00:00",
            b"2024-01-02T03:04:05Z",
            b"2024-01-02T03:04:05+02:00",
            b"2024-01-02T03:04:05-11:30",
            b"2024-01-02T03:04:05",
            b"2024-01-02",
            b"yesterday",
            b"\xff",
            b"",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat().encode()),
    raw_bytes,
)
values = {
    "ce_specversion": st.sampled_from([b"1.0", b"0.3", b""]),
    "ce_id": st.one_of(texts, raw_bytes, st.just(b"")),
    "ce_source": st.one_of(st.just(b"/dunlin/payments"), texts, raw_bytes),
    "ce_type": st.one_of(
        st.sampled_from([TYPE, b"dunlin.nope.Nothing.v1", TYPE + b"\xff", b""]), raw_bytes
    ),
    "ce_time": times,
    "ce_subject": st.one_of(st.just(ACCOUNT), texts, raw_bytes, st.just(b"")),
    "content-type": st.sampled_from(
        [b"application/json", b"application/json; charset=utf-8", b"text/plain", b""]
    ),
}


def _outcome(rec: KafkaRecord) -> object:
    try:
        return decode(rec)
    except InvalidMessage as exc:
        return (type(exc), exc.reason)


@settings(max_examples=400, deadline=None)
@given(
    changes=st.fixed_dictionaries({}, optional=values),
    traceparent=st.one_of(st.none(), st.just(TRACE), st.just(b""), raw_bytes),
    key=st.one_of(st.just(BASE.key), st.just(b""), raw_bytes),
)
def test_inline_decoding_has_the_outcome_of_the_general_path(changes, traceparent, key):
    headers = [(name, changes.get(name, value)) for name, value in BASE.headers]
    if traceparent is not None:
        headers.append(("traceparent", traceparent))
    usual = KafkaRecord(key, BASE.value, headers)
    # The same headers, handed over as an iterator, take the general (SDK-equivalent) path.
    general = KafkaRecord(key, BASE.value, iter(headers))  # type: ignore[arg-type]
    assert _outcome(usual) == _outcome(general)
