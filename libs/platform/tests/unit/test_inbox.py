"""How the inbox claim sends its ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dunlin_platform.text_columns import text_parameter


def test_ids_are_joined_only_when_they_split_back_into_themselves() -> None:
    assert text_parameter(["a", "b"]) == (True, "a\x1fb")
    assert text_parameter(["a"]) == (True, "a")
    assert text_parameter(["", "b"]) == (True, "\x1fb")
    assert text_parameter([""]) == (False, [""])
    assert text_parameter(["a\x1f", "b"]) == (False, ["a\x1f", "b"])


@given(st.lists(st.text(alphabet="a\x1f\x1e,é", max_size=4), max_size=6))
def test_joined_ids_split_back_into_exactly_the_ids(ids: list[str]) -> None:
    """What string_to_array(joined, chr(31)) returns, modelled by str.split."""
    joined, sent = text_parameter(ids)
    if joined:
        assert isinstance(sent, str)
        assert sent != ""  # string_to_array('') is an empty array
        assert sent.split("\x1f") == ids
    else:
        assert sent == ids
