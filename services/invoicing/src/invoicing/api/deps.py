"""Shared API plumbing: the runtime, cursors, and domain refusals as problems."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Request

from dunlin_platform.http.pagination import cursor_of, invalid_cursor
from dunlin_platform.http.problems import (
    ConflictError,
    FieldError,
    NotFoundError,
    ProblemError,
    UnprocessableError,
)
from dunlin_platform.runtime import ServiceRuntime
from invoicing.batching import WriteBatcher
from invoicing.domain import (
    CurrencyMismatch,
    DomainError,
    DuplicateAccount,
    DuplicateInvoice,
    InvalidTransition,
    NotFound,
    UnknownAccount,
)
from invoicing.issuer import InvoiceIssuer


# Dependencies are `async def` because FastAPI runs plain `def` ones in a thread pool.
async def _runtime(request: Request) -> ServiceRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]


def seq_cursor(after: list[Any] | None) -> int | None:
    """The `seq` a `[seq]` cursor continues after; a 422 problem for anything else.

    `decode_cursor` has already refused a number beyond bigint; a seq is never negative.
    """
    cursor = cursor_of(after, int)
    if cursor is None:
        return None
    seq: int = cursor[0]
    if seq < 0:
        raise invalid_cursor()
    return seq


def dated_cursor(after: list[Any] | None) -> tuple[dt.date, int] | None:
    """The `(date, seq)` a `[ISO date, seq]` cursor continues after; a 422 problem otherwise."""
    cursor = cursor_of(after, str, int)
    if cursor is None:
        return None
    day, seq = cursor
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise invalid_cursor() from None
    if seq < 0:
        raise invalid_cursor()
    return date, seq


def invoice_issuer(request: Request) -> InvoiceIssuer:
    """The app's issuer; a plain call, not a dependency, on the hottest route."""
    issuer = request.app.state.invoice_issuer
    assert isinstance(issuer, WriteBatcher)
    return issuer


def field_problem(
    detail: str, *, field: str, type: str, slug: str = "validation-error"
) -> UnprocessableError:
    """A 422 naming one body field."""
    error = FieldError(field=field, location="body", message=detail, type=type)
    return UnprocessableError(detail, slug=slug, errors=[error])


def problem_for(error: DomainError) -> ProblemError:
    """Translate a business refusal into the problem the client sees."""
    if isinstance(error, InvalidTransition):
        return ConflictError(error.message, slug="invalid-transition", current_status=error.status)
    if isinstance(error, NotFound):
        return NotFoundError(error.message)
    if isinstance(error, DuplicateAccount | DuplicateInvoice):
        extra: dict[str, Any] = {"field": error.field} if error.field else {}
        return ConflictError(error.message, slug="duplicate", **extra)
    slug = {UnknownAccount: "unknown-account", CurrencyMismatch: "currency-mismatch"}.get(
        type(error), "business-rule"
    )
    if error.field is None:
        return UnprocessableError(error.message, slug=slug)
    return field_problem(error.message, field=error.field, type=slug.replace("-", "_"), slug=slug)
