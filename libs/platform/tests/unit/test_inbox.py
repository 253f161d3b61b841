"""How the inbox claim sends its ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dunlin_platform.inbox import ids_parameter


def test_ids_are_joined_only_when_they_split_back_into_themselves() -> None:
    assert ids_parameter(["a", "b"]) == (True, "a\x1fb")
    assert ids_parameter(["a"]) == (True, "a")
    assert ids_parameter(["", "b"]) == (True, "\x1fb")
    assert ids_parameter([""]) == (False, [""])
    assert ids_parameter(["a\x1f", "b"]) == (False, ["a\x1f", "b"])


@given(st.lists(st.text(alphabet="a\x1f\x1e,é", max_size=4), max_size=6))
def test_joined_ids_split_back_into_exactly_the_ids(ids: list[str]) -> None:
    """What string_to_array(joined, chr(31)) returns, modelled by str.split."""
    joined, sent = ids_parameter(ids)
    if joined:
        assert isinstance(sent, str)
        assert sent != ""  # string_to_array('') is an empty array
        assert sent.split("\x1f") == ids
    else:
        assert sent == ids
