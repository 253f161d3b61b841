"""Audit details are written by pydantic's JSON encoder: the same JSON values as `json`'s."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dunning.domain.case import AuditEntry
from dunning.repository import _detail_json, as_json

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner)),
    max_leaves=12,
)


@given(detail=st.dictionaries(st.text(), _values, max_size=5))
def test_a_detail_is_the_same_json_document_as_before(detail: dict[str, Any]) -> None:
    assert json.loads(_detail_json(detail)) == json.loads(as_json(detail))


def test_the_sweeps_details_are_written_as_json() -> None:
    detail = {"index": 1, "invoices": ["inv-1", "ünï"], "policy_version": 1}
    assert _detail_json(detail) == '{"index":1,"invoices":["inv-1","ünï"],"policy_version":1}'
    assert _detail_json({}) == "{}"


def test_an_entry_without_detail_writes_an_empty_object_and_stays_immutable() -> None:
    at = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)
    bare = AuditEntry("noted", "someone", None, at)
    other = AuditEntry("noted", "someone", None, at, "case-1")
    assert bare.detail == {}
    assert _detail_json(bare.detail) == "{}"
    assert other.case_id == "case-1"
    assert other.step_key is None
    with pytest.raises(AttributeError):
        bare.action = "changed"  # type: ignore[misc]
    # Entries with a detail keep their own mapping; the empty default is not shared into them.
    given_detail = AuditEntry("noted", "someone", None, at, detail={"n": 1})
    assert given_detail.detail == {"n": 1}
    assert bare.detail == {}
