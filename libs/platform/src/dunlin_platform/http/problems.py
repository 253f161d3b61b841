"""RFC 9457 problem details: one error shape for every Dunlin HTTP API."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dunlin_platform.errors import sqlstate_of
from dunlin_platform.outbox import EventTooLarge

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://dunlin.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

Location = Literal["body", "query", "path", "header", "cookie"]

# Data exceptions only a request's own values cause: a parameter asyncpg refuses to encode
# (its client-side DataError, 22000: a lone surrogate, an int beyond its column) and text
# PostgreSQL cannot store (NUL, an untranslatable character). Other class-22 errors (a
# division by zero, an overflow in a query's own arithmetic) stay 500s.
_UNSTORABLE_INPUT_SQLSTATES = frozenset({"22000", "22021", "22P05"})


class FieldError(BaseModel):
    """One invalid input field."""

    field: str
    location: Location
    message: str
    type: str


class Problem(BaseModel):
    """The problem+json body; extra members are allowed by RFC 9457."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    trace_id: str | None = None
    errors: list[FieldError] | None = None


def problem_type(slug: str) -> str:
    """Return the problem type URI for a slug."""
    return f"{PROBLEM_BASE}{slug}"


def _slug_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return "error"


def _title_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or _title_for(status))
        self.status = status
        self.title = title or _title_for(status)
        self.detail = detail
        self.type = problem_type(slug or _slug_for(status))
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequestError(ProblemError):
    """400: the request is malformed in a way validation cannot express."""

    def __init__(self, detail: str, *, slug: str = "bad-request", **extra: Any) -> None:
        super().__init__(400, "Bad Request", detail, slug=slug, **extra)


class UnauthorizedError(ProblemError):
    """401: no valid credentials; tells the client to use a bearer key."""

    def __init__(self, detail: str = "A valid API key is required.", **extra: Any) -> None:
        headers = {"WWW-Authenticate": 'Bearer realm="dunlin"'}
        super().__init__(401, "Unauthorized", detail, slug="unauthorized", headers=headers, **extra)


class ForbiddenError(ProblemError):
    """403: authenticated, but the key lacks a scope."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(403, "Forbidden", detail, slug="forbidden", **extra)


class NotFoundError(ProblemError):
    """404: the resource does not exist (or is not visible to the caller)."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(404, "Not Found", detail, slug="not-found", **extra)


class ConflictError(ProblemError):
    """409: the request conflicts with the resource's current state."""

    def __init__(self, detail: str, *, slug: str = "conflict", **extra: Any) -> None:
        super().__init__(409, "Conflict", detail, slug=slug, **extra)


class UnprocessableError(ProblemError):
    """422: well-formed but semantically invalid input."""

    def __init__(
        self,
        detail: str,
        *,
        slug: str = "validation-error",
        errors: Sequence[FieldError] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(422, "Unprocessable Content", detail, slug=slug, errors=errors, **extra)


def current_trace_id() -> str | None:
    """Return the active OpenTelemetry trace id as 32 hex chars, if any."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def problem_response(
    request: Request, error: ProblemError, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Render a ProblemError as an application/problem+json response."""
    body = Problem(
        type=error.type,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=request.url.path,
        trace_id=current_trace_id(),
        errors=error.errors,
        **error.extra,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=error.status,
        headers={**error.headers, **(headers or {})},
        media_type=PROBLEM_CONTENT_TYPE,
    )


def field_errors(raw: Sequence[Any]) -> list[FieldError]:
    """Translate FastAPI/pydantic error dicts into FieldErrors with dotted paths."""
    result: list[FieldError] = []
    for item in raw:
        loc = tuple(item.get("loc", ()))
        location = (
            loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
        )
        rest = loc[1:] if loc and loc[0] == location else loc
        if item.get("type") == "json_invalid":
            rest = ()  # the int in loc is a character offset, not a list index
        field = ""
        for part in rest:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        result.append(
            FieldError(field=field, location=location, message=item["msg"], type=item["type"])
        )
    return result


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    names = ", ".join(sorted({e.field or e.location for e in errors}))
    error = UnprocessableError(f"The request has invalid fields: {names}.", errors=errors)
    return problem_response(request, error)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == _title_for(exc.status_code):
        detail = None  # Starlette's default detail only repeats the title
    error = ProblemError(exc.status_code, detail=detail, headers=exc.headers)
    return problem_response(request, error)


async def _on_event_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EventTooLarge)
    detail = f"The request would publish an event too large to deliver: {exc}."
    return problem_response(request, ProblemError(413, detail=detail, slug="event-too-large"))


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if sqlstate_of(exc) not in _UNSTORABLE_INPUT_SQLSTATES:
        raise exc  # on to _on_unhandled, as any other server error
    detail = (
        "A value in the request cannot be stored: a NUL character, an unpaired surrogate"
        " or a number beyond the range of its field."
    )
    return problem_response(request, UnprocessableError(detail, slug="unstorable-value"))


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = ProblemError(500, detail="An unexpected error occurred; it has been logged.")
    return problem_response(request, error)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of the app answer with problem+json."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(EventTooLarge, _on_event_too_large)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(Exception, _on_unhandled)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return a FastAPI `responses=` mapping documenting problem bodies for the statuses."""
    return {
        status: {
            "model": Problem,
            "description": _title_for(status),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
