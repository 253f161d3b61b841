"""Every error of an app with install_problem_handlers is RFC 9457 problem+json."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.http.problems import (
    NotFoundError,
    UnauthorizedError,
    install_problem_handlers,
    problem_responses,
)
from dunlin_platform.outbox import EventTooLarge


class Line(BaseModel):
    amount: int
    description: str


class Order(BaseModel):
    customer: str
    lines: list[Line]


def build_app() -> FastAPI:
    # No server span of FastAPI's own: these tests are about the problem handlers, and with a
    # tracer provider installed by an earlier test in the process (any service app does) the
    # server span would put a trace id of its own into every problem.
    app = FastAPI(telemetry={"tracing": False})
    install_problem_handlers(app)

    @app.post("/orders", responses=problem_responses(422))
    async def create_order(order: Order, limit: int = 10) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/orders/{order_id}", responses=problem_responses(404))
    async def get_order(order_id: int) -> dict[str, int]:
        raise NotFoundError(f"Order {order_id} does not exist.")

    @app.get("/private")
    async def private() -> None:
        raise UnauthorizedError()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    @app.post("/huge")
    async def huge() -> None:
        raise EventTooLarge("dunlin.invoicing.InvoiceIssued.v1", 2_000_000)

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_invalid_body_is_a_422_problem_naming_each_field() -> None:
    async with client(build_app()) as http:
        response = await http.post(
            "/orders?limit=x", json={"lines": [{"amount": "lots", "description": "a"}]}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://dunlin.dev/problems/validation-error"
    assert problem["status"] == 422
    assert problem["instance"] == "/orders"
    fields = {(e["location"], e["field"]): e["type"] for e in problem["errors"]}
    assert fields == {
        ("body", "customer"): "missing",
        ("body", "lines[0].amount"): "int_parsing",
        ("query", "limit"): "int_parsing",
    }
    assert all(e["message"] for e in problem["errors"])


async def test_malformed_json_is_a_422_problem_on_the_body() -> None:
    async with client(build_app()) as http:
        response = await http.post(
            "/orders", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["location"], error["field"], error["type"]) == ("body", "", "json_invalid")


async def test_unknown_route_is_a_404_problem() -> None:
    async with client(build_app()) as http:
        response = await http.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://dunlin.dev/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "instance": "/nowhere",
    }


async def test_wrong_method_is_a_405_problem_with_allow() -> None:
    async with client(build_app()) as http:
        response = await http.delete("/orders")
    assert response.status_code == 405
    assert response.json()["type"] == "https://dunlin.dev/problems/method-not-allowed"
    assert response.headers["allow"] == "POST"


async def test_problem_error_keeps_its_detail_and_headers() -> None:
    async with client(build_app()) as http:
        missing = await http.get("/orders/7")
        private = await http.get("/private")
    assert missing.json()["detail"] == "Order 7 does not exist."
    assert private.status_code == 401
    assert private.headers["www-authenticate"].startswith("Bearer")


async def test_unhandled_error_is_a_500_problem_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="dunlin_platform.http.problems"):
        async with client(build_app()) as http:
            response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert response.json()["type"] == "https://dunlin.dev/problems/internal-server-error"
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert "hunter2" in str(logged)


async def test_an_event_too_large_to_publish_is_a_413_problem() -> None:
    async with client(build_app()) as http:
        response = await http.post("/huge")
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://dunlin.dev/problems/event-too-large"
    assert "InvoiceIssued.v1 event of 2,000,000 bytes" in problem["detail"]


async def test_problem_carries_the_active_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        async with client(build_app()) as http:
            response = await http.get("/orders/1")
    assert response.json()["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_openapi_documents_problem_responses() -> None:
    schema = build_app().openapi()
    response = schema["paths"]["/orders/{order_id}"]["get"]["responses"]["404"]
    assert response["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "Problem" in schema["components"]["schemas"]


def build_storing_app(sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = FastAPI(telemetry={"tracing": False})
    install_problem_handlers(app)

    @app.post("/notes")
    async def add_note(note: Note) -> dict[str, str]:
        async with sessionmaker() as session:
            await session.execute(
                text("SELECT CAST(:text AS text), CAST(:pages AS integer)"),
                {"text": note.text, "pages": note.pages},
            )
        return {"status": "stored"}

    @app.get("/divide")
    async def divide() -> None:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1 / 0"))

    return app


class Note(BaseModel):
    text: str
    pages: int = 1


@pytest.mark.parametrize(
    "note",
    [
        {"text": "NUL \u0000 inside"},  # PostgreSQL text cannot hold NUL
        {"text": "\ud800"},  # a lone surrogate is valid JSON, not encodable UTF-8
        {"text": "ok", "pages": 2**40},  # valid JSON and int, beyond the integer column
    ],
)
async def test_a_value_the_database_cannot_store_is_a_422_problem(
    sessionmaker: async_sessionmaker[AsyncSession], note: dict[str, object]
) -> None:
    app = build_storing_app(sessionmaker)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post(
            "/notes",
            content=json.dumps(note),  # ensure_ascii: "\ud800" travels as an escape
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unstorable-value")


async def test_a_database_error_of_the_servers_own_making_stays_a_500(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    transport = httpx.ASGITransport(build_storing_app(sessionmaker), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/divide")
    assert response.status_code == 500
