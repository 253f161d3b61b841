"""A direct route answers the plain request itself and every other one as FastAPI would."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Message

from dunlin_platform.http.direct import direct_route
from dunlin_platform.http.problems import ForbiddenError, install_problem_handlers


class Order(BaseModel):
    customer: str
    lines: list[int]


def build_app(*, direct: bool) -> tuple[FastAPI, Counter[str]]:
    """The same route twice over: as a direct route, or as a plain APIRoute."""
    app = FastAPI(telemetry={"tracing": False})
    install_problem_handlers(app)
    seen: Counter[str] = Counter()

    async def writers_only(request: Request) -> None:
        seen["check"] += 1
        if request.headers.get("x-role") != "writer":
            raise ForbiddenError("Writers only.")

    async def declared(request: Request) -> None:
        seen["solved"] += 1
        await writers_only(request)

    async def opt_in(token: Annotated[str | None, Header(alias="X-Opt-In")] = None) -> None:
        seen["opt_in"] += token is not None

    async def create(order: Order, request: Request) -> Response:
        seen["endpoint"] += 1
        body = {"customer": order.customer, "lines": len(order.lines), "path": request.url.path}
        return JSONResponse(body, status_code=201)

    route_class = (
        direct_route(writers_only, general_if_headers=["X-Opt-In"]) if direct else APIRoute
    )
    app.router.add_api_route(
        "/orders",
        create,
        methods=["POST"],
        status_code=201,
        dependencies=[Depends(declared), Depends(opt_in)],
        route_class_override=route_class,
    )
    return app, seen


WRITER = {"x-role": "writer", "content-type": "application/json"}
VALID = b'{"customer": "ACME", "lines": [1, 2]}'

CASES: dict[str, tuple[bytes, dict[str, str]]] = {
    "valid": (VALID, WRITER),
    "valid with a charset": (VALID, {**WRITER, "content-type": "application/json; charset=utf-8"}),
    "not JSON": (b'{"customer": ', WRITER),
    "not UTF-8": (b'{"customer": "\xff"}', WRITER),
    "invalid fields": (b'{"customer": 1, "lines": "x"}', WRITER),
    "empty": (b"", WRITER),
    "JSON null": (b"null", WRITER),
    "text content type": (VALID, {**WRITER, "content-type": "text/plain"}),
    "a +json content type": (VALID, {**WRITER, "content-type": "application/merge-patch+json"}),
    "no content type": (VALID, {"x-role": "writer"}),
    "refused by the check": (VALID, {"content-type": "application/json"}),
    "not JSON and refused": (b"{", {"content-type": "application/json"}),
    "invalid and refused": (b'{"lines": 1}', {"content-type": "application/json"}),
    "opt-in header": (VALID, {**WRITER, "X-Opt-In": "1"}),
}


async def post(app: FastAPI, body: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/orders", content=body, headers=headers)


@pytest.mark.parametrize("case", list(CASES))
async def test_every_request_gets_the_answer_fastapi_gives(case: str) -> None:
    body, headers = CASES[case]
    general, _ = build_app(direct=False)
    direct, _ = build_app(direct=True)

    expected = await post(general, body, headers)
    got = await post(direct, body, headers)

    assert (got.status_code, got.content) == (expected.status_code, expected.content)
    assert got.headers == expected.headers


async def test_the_plain_request_skips_dependency_solving_but_not_the_check() -> None:
    app, seen = build_app(direct=True)

    response = await post(app, VALID, WRITER)

    assert response.status_code == 201
    assert response.json() == {"customer": "ACME", "lines": 2, "path": "/orders"}
    assert seen == Counter(check=1, endpoint=1)


async def test_a_refused_check_never_reaches_the_endpoint() -> None:
    app, seen = build_app(direct=True)

    response = await post(app, VALID, {"content-type": "application/json"})

    assert response.status_code == 403
    assert seen["endpoint"] == 0


async def test_an_opt_in_header_goes_through_the_dependencies() -> None:
    app, seen = build_app(direct=True)

    response = await post(app, VALID, {**WRITER, "X-Opt-In": "yes"})

    assert response.status_code == 201
    assert seen == Counter(solved=1, check=1, opt_in=1, endpoint=1)


async def test_dependency_overrides_are_honoured() -> None:
    app, seen = build_app(direct=True)
    overridden: list[bool] = []

    async def anyone() -> None:
        overridden.append(True)

    declared = app.router.routes[-1].dependant.dependencies[0].call  # type: ignore[attr-defined]
    app.dependency_overrides[declared] = anyone

    response = await post(app, VALID, {"content-type": "application/json"})

    assert response.status_code == 201
    assert overridden == [True]
    assert seen["check"] == 0


async def _call_with_failing_body(app: FastAPI) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        raise RuntimeError("the body could not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return sent


async def test_a_body_that_cannot_be_read_fails_as_fastapi_fails_it() -> None:
    general, _ = build_app(direct=False)
    direct, seen = build_app(direct=True)

    expected = await _call_with_failing_body(general)
    got = await _call_with_failing_body(direct)

    assert got[0]["status"] == expected[0]["status"] == 400
    assert got[1]["body"] == expected[1]["body"]
    assert seen["endpoint"] == 0


def test_an_endpoint_with_other_parameters_cannot_be_direct() -> None:
    app = FastAPI()

    async def create(order: Order, request: Request, limit: int = 10) -> Response:
        return Response(status_code=201)

    with pytest.raises(TypeError, match="takes a body and the request"):
        app.router.add_api_route(
            "/orders", create, methods=["POST"], route_class_override=direct_route()
        )


def test_a_route_with_dependencies_but_no_checks_cannot_be_direct() -> None:
    """Its plain requests would skip the dependencies, authentication included."""
    app = FastAPI()

    async def create(order: Order, request: Request) -> Response:
        return Response(status_code=201)

    async def authenticated(request: Request) -> None:
        raise ForbiddenError("Nobody.")

    with pytest.raises(TypeError, match="dependencies but no checks"):
        app.router.add_api_route(
            "/orders",
            create,
            methods=["POST"],
            dependencies=[Depends(authenticated)],
            route_class_override=direct_route(),
        )
