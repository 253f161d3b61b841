"""One way to paginate every list: an opaque keyset cursor plus a limit."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from dunlin_platform.http.problems import FieldError, UnprocessableError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

_BIGINT = range(-(2**63), 2**63)
_UNSTORABLE_CHARS = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL text, UTF-8 encoding


class Page(BaseModel, Generic[T]):
    """A page of a list; pass next_cursor back to get the following page."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(sort_key: Sequence[Any]) -> str:
    """Encode the last row's sort key as an opaque base64url cursor."""
    # default=str lets dates, UUIDs and Decimals travel; decode_cursor returns them as strings.
    raw = json.dumps(list(sort_key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> list[Any]:
    """Decode a cursor made by encode_cursor; a malformed one is a 422 problem."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        value = None  # RecursionError: a forged cursor nesting arrays a thousand deep
    if not isinstance(value, list) or not all(_storable(v) for v in value):
        raise invalid_cursor()
    return value


def _storable(value: Any) -> bool:
    """Whether a sort key value can reach PostgreSQL as a query parameter.

    A cursor is the client's to send back, so a forged one must be a 422, not a 500 from
    the driver: a list or object, an integer beyond bigint, or a string with NUL or a lone
    surrogate never came from encode_cursor.
    """
    if isinstance(value, str):
        return _UNSTORABLE_CHARS.search(value) is None
    if isinstance(value, int) and not isinstance(value, bool):
        return value in _BIGINT
    return value is None or isinstance(value, bool | float)


def invalid_cursor() -> UnprocessableError:
    """The problem for a cursor that is malformed or does not fit the list it is sent to."""
    error = FieldError(
        field="cursor", location="query", message="malformed cursor", type="invalid_cursor"
    )
    return UnprocessableError(
        "The cursor is malformed; use the next_cursor of a previous page.",
        slug="invalid-cursor",
        errors=[error],
    )


def cursor_of(after: list[Any] | None, *types: type) -> list[Any] | None:
    """A decoded cursor when its values have the expected types; a 422 problem otherwise."""
    if after is None:
        return None
    if len(after) != len(types) or not all(
        isinstance(v, t) and not (isinstance(v, bool) and t is not bool)
        for v, t in zip(after, types, strict=True)
    ):
        raise invalid_cursor()
    return after


class PageParams:
    """Query parameters shared by every list endpoint."""

    def __init__(
        self,
        cursor: Annotated[
            str | None, Query(description="Opaque cursor from a previous page's next_cursor.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    ) -> None:
        self.cursor = cursor
        self.limit = limit

    @property
    def after(self) -> list[Any] | None:
        """The decoded sort key to continue after, or None for the first page."""
        return decode_cursor(self.cursor) if self.cursor is not None else None


PageParamsDep = Annotated[PageParams, Depends()]


def build_page(rows: Sequence[T], *, limit: int, sort_key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """Build a page from up to limit+1 rows fetched in sort order (the extra row means more)."""
    items = list(rows[:limit])
    has_more = len(rows) > limit
    next_cursor = encode_cursor(sort_key(items[-1])) if has_more and items else None
    return Page[T](items=items, next_cursor=next_cursor)
