"""Shared API plumbing: the runtime and cursors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from dunlin_platform.http.problems import FieldError, UnprocessableError
from risk.runtime import RiskRuntime


def _runtime(request: Request) -> RiskRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, RiskRuntime)
    return runtime


RuntimeDep = Annotated[RiskRuntime, Depends(_runtime)]


def invalid_cursor() -> UnprocessableError:
    """The problem for a cursor that does not fit the list it is sent to."""
    error = FieldError(
        field="cursor", location="query", message="malformed cursor", type="invalid_cursor"
    )
    return UnprocessableError(
        "The cursor is malformed; use the next_cursor of a previous page.",
        slug="invalid-cursor",
        errors=[error],
    )


def cursor_of(after: list[Any] | None, *types: type) -> list[Any] | None:
    """The decoded cursor when it has the expected shape; a 422 problem otherwise."""
    if after is None:
        return None
    if len(after) != len(types) or not all(
        isinstance(v, t) for v, t in zip(after, types, strict=True)
    ):
        raise invalid_cursor()
    return after
