"""Text columns sent as ONE text each, for the bulk statements' `unnest`.

A column's values are joined by the ASCII unit separator (NULLs written as the record
separator) and split again by `string_to_array`: the driver then copies one string instead
of type-checking and encoding every element of a text[]. A column that would not split
back into exactly its values (a value holding a separator, or one lone "", which
`string_to_array` reads as no element) must travel as a text[] instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

SEPARATOR, NULL = "\x1f", "\x1e"


def joined_text(values: Sequence[str | None]) -> str | None:
    """The values as one separator-joined text, or None when it would not split back."""
    nulls = values.count(None)
    strings = [NULL if v is None else v for v in values] if nulls else values
    text = SEPARATOR.join(cast("Sequence[str]", strings))
    if not text or text.count(SEPARATOR) != len(values) - 1 or text.count(NULL) != nulls:
        return None
    return text


def text_parameter(values: Sequence[str]) -> tuple[bool, str | list[str]]:
    """(True, the values joined) when that splits back into exactly them, else (False, a list)."""
    joined = joined_text(values)
    return (False, list(values)) if joined is None else (True, joined)


def joined_text_columns(columns: Mapping[str, Sequence[str | None]]) -> dict[str, str] | None:
    """Every column joined (`joined_text`), or None when any of them must travel as a text[]."""
    joined: dict[str, str] = {}
    for name, values in columns.items():
        text = joined_text(values)
        if text is None:
            return None
        joined[name] = text
    return joined


def split_sql(placeholder: str) -> str:
    """The text[] split from the joined text a parameter carries (`:name`, or `$n` on asyncpg)."""
    return f"string_to_array(CAST({placeholder} AS text), chr({ord(SEPARATOR)}), chr({ord(NULL)}))"


def text_array_sql(name: str, *, joined: bool) -> str:
    """The text[] that bound parameter `name` carries: split from its joined text, or cast."""
    if joined:
        return split_sql(f":{name}")
    return f"CAST(:{name} AS text[])"
