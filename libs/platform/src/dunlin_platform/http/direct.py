"""Routes whose everyday request skips FastAPI's per-request dependency solving.

`solve_dependencies` re-walks a route's dependency tree on every request (~0.2 ms on
`POST /invoices`, more than the endpoint itself). A direct route answers the plain case
itself: a JSON body that validates, no opt-in header (e.g. `Idempotency-Key`) and no
dependency overrides. It validates the body with the route's own body field (FastAPI's
exact call), runs the route's checks (plain `async (request)` callables, the same ones its
dependencies call), then its endpoint. Anything else (a body that does not parse or
validate, a non-JSON content type, an opt-in header, a body that cannot be read) is
handed to FastAPI's general handler, so every refusal and its order stay FastAPI's.
The route is declared as usual, so its OpenAPI document does not change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, ClassVar

from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

RequestCheck = Callable[[Request], Awaitable[object]]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """An APIRoute with a direct path; subclass through `direct_route`, never use bare."""

    checks: ClassVar[tuple[RequestCheck, ...]] = ()
    general_if_headers: ClassVar[frozenset[bytes]] = frozenset()

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        others = (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.cookie_params,
        )
        if (
            len(dependant.body_params) != 1
            or dependant.request_param_name is None
            or any(others)
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
        ):
            raise TypeError(f"{path}: a direct route's endpoint takes a body and the request")
        if dependant.dependencies and not self.checks:
            # The plain request would skip every dependency, authentication included.
            raise TypeError(f"{path}: a direct route with dependencies but no checks")

    def get_route_handler(self) -> Handler:
        """FastAPI's handler, behind the direct path for the plain case."""
        general = super().get_route_handler()
        body_field = self.body_field
        assert body_field is not None  # checked in __init__
        body_name = body_field.name
        request_name = self.dependant.request_param_name
        assert request_name is not None
        endpoint = self.endpoint
        checks = self.checks
        general_if = self.general_if_headers
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if _needs_general(request, general_if, overrides):
                return await general(request)
            try:
                raw = await request.body()
            except Exception as exc:  # FastAPI turns it into its 400/413: let it read it
                return await general(_failing_body(request, exc))
            body = await _json_body(request, raw)
            if body is _GENERAL:
                return await general(request)
            value, errors = body_field.validate(body, {}, loc=("body",))
            if errors:
                return await general(request)
            for check in checks:
                await check(request)
            values = {body_name: value, request_name: request}
            _record_telemetry(request, body, values)
            response = await endpoint(**values)
            assert isinstance(response, Response)
            return response

        return handler


def direct_route(
    *checks: RequestCheck, general_if_headers: Collection[str] = ()
) -> type[DirectRoute]:
    """A route class answering directly after `checks`, unless one of those headers is sent.

    `checks` must do what the route's dependencies do for a request without those headers.
    """
    return type(
        "DirectRoute",
        (DirectRoute,),
        {
            "checks": tuple(checks),
            "general_if_headers": frozenset(
                h.lower().encode("latin-1") for h in general_if_headers
            ),
        },
    )


class _General:
    """Marker: FastAPI's general handler must answer this request."""


_GENERAL = _General()


def _needs_general(request: Request, headers: frozenset[bytes], overrides: Any) -> bool:
    if overrides is not None and getattr(overrides, "dependency_overrides", None):
        return True
    if not headers:
        return False
    return any(name in headers for name, _ in request.scope["headers"])


async def _json_body(request: Request, raw: bytes) -> Any:
    """The body as FastAPI parses it (`Request.json()`), or `_GENERAL` when it would not."""
    if not raw or not _is_json(request.headers.get("content-type")):
        return _GENERAL
    try:
        return await request.json()  # parses the body read above, and caches it
    except Exception:  # not JSON: FastAPI's 422 or 400
        return _GENERAL


def _is_json(content_type: str | None) -> bool:
    """`application/json` with or without parameters; other JSON types go the general way."""
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _failing_body(request: Request, error: Exception) -> Request:
    """The request again, its body read failing as it did, for the general handler."""

    async def receive() -> Message:
        raise error

    return Request(request.scope, receive)


def _record_telemetry(request: Request, body: Any, values: dict[str, Any]) -> None:
    """What FastAPI's handler hands OpenTelemetry processors (`get_telemetry_data`)."""
    data = get_telemetry_data()
    if data is not None:
        data.request = request
        data.body = body
        data.values = values
