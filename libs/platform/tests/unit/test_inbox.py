"""How the inbox claim sends its ids."""

from __future__ import annotations

from dunlin_platform.inbox import ids_parameter


def test_ids_are_joined_only_when_they_split_back_into_themselves() -> None:
    assert ids_parameter(["a", "b"]) == (True, "a\x1fb")
    assert ids_parameter(["a"]) == (True, "a")
    assert ids_parameter(["", "b"]) == (True, "\x1fb")
    assert ids_parameter([""]) == (False, [""])
    assert ids_parameter(["a\x1f", "b"]) == (False, ["a\x1f", "b"])
