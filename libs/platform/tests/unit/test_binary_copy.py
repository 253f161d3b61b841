"""Binary COPY fields as PostgreSQL's binary format defines them (and asyncpg writes them)."""

from __future__ import annotations

import datetime as dt

from dunlin_platform.outbox_copy import (
    NULL_FIELD,
    BinaryCopy,
    bytes_field,
    field_count,
    jsonb_field,
    text_field,
    timestamptz_field,
)


def test_text_fields_are_length_and_utf8() -> None:
    assert text_field("") == b"\x00\x00\x00\x00"
    assert text_field("é\x1f") == b"\x00\x00\x00\x03\xc3\xa9\x1f"
    assert text_field(None) == NULL_FIELD == b"\xff\xff\xff\xff"
    assert bytes_field(b"ab") == b"\x00\x00\x00\x02ab"


def test_jsonb_fields_carry_the_format_version() -> None:
    assert jsonb_field(b'{"a":1}') == b"\x00\x00\x00\x08\x01" + b'{"a":1}'


def test_timestamptz_fields_are_microseconds_since_2000_utc() -> None:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert timestamptz_field(epoch) == b"\x00\x00\x00\x08" + bytes(8)
    later = epoch + dt.timedelta(days=1, seconds=2, microseconds=3)
    micros = (86_400 + 2) * 1_000_000 + 3
    assert timestamptz_field(later) == b"\x00\x00\x00\x08" + micros.to_bytes(8, "big")
    before = epoch - dt.timedelta(microseconds=1)
    assert timestamptz_field(before) == b"\x00\x00\x00\x08" + b"\xff" * 8
    plus_two = later.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert timestamptz_field(plus_two) == timestamptz_field(later)
    naive_local = later.astimezone().replace(tzinfo=None)  # asyncpg: naive is local time
    assert timestamptz_field(naive_local) == timestamptz_field(later)
    assert timestamptz_field(dt.datetime.max)[4:] == b"\x7f" + b"\xff" * 7
    assert timestamptz_field(dt.datetime.min)[4:] == b"\x80" + bytes(7)


def test_copy_data_has_the_signature_rows_and_trailer() -> None:
    copy = BinaryCopy()
    copy.parts += (field_count(2), text_field("a"), NULL_FIELD)
    assert copy.data() == (
        b"PGCOPY\n\xff\r\n\x00"
        + bytes(8)
        + b"\x00\x02"
        + text_field("a")
        + NULL_FIELD
        + b"\xff\xff"
    )
