"""Lists page with an opaque cursor and a bounded limit."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.http.pagination import (
    Page,
    PageParamsDep,
    build_page,
    cursor_of,
    decode_cursor,
    encode_cursor,
)
from dunlin_platform.http.problems import UnprocessableError, install_problem_handlers


class Item(BaseModel):
    id: int
    name: str


ITEMS = [Item(id=i, name=f"item-{i}") for i in range(1, 8)]


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def list_items(page: PageParamsDep) -> Page[Item]:
        after = page.after
        start = after[0] if after else 0
        rows = [item for item in ITEMS if item.id > start][: page.limit + 1]
        return build_page(rows, limit=page.limit, sort_key=lambda item: [item.id])

    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(build_app()), base_url="http://test")


def test_cursor_round_trips_its_sort_key() -> None:
    moment = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    cursor = encode_cursor([moment, 42, "inv-7"])
    assert "=" not in cursor
    assert decode_cursor(cursor) == [moment.isoformat(sep=" "), 42, "inv-7"]


async def test_walking_the_cursor_visits_every_item_once() -> None:
    seen: list[int] = []
    cursor: str | None = None
    async with client() as http:
        while True:
            params: dict[str, str | int] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            body = (await http.get("/items", params=params)).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
    assert seen == [item.id for item in ITEMS]


async def test_default_page_has_no_next_cursor_when_everything_fits() -> None:
    async with client() as http:
        body = (await http.get("/items")).json()
    assert len(body["items"]) == len(ITEMS)
    assert body["next_cursor"] is None


async def test_malformed_cursor_is_a_422_problem() -> None:
    async with client() as http:
        for bad in ("not-base64!!", encode_cursor([1])[:-1] + "@", "eyJhIjoxfQ"):  # last: a dict
            response = await http.get("/items", params={"cursor": bad})
            assert response.status_code == 422, bad
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["errors"][0]["field"] == "cursor"


async def test_limit_out_of_range_is_a_422_problem() -> None:
    async with client() as http:
        for limit in (0, 501):
            response = await http.get("/items", params={"limit": limit})
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "limit"


def raw_cursor(value: Any) -> str:
    """A cursor as a client could forge it: any JSON, base64url-encoded."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def test_a_cursor_nested_deeper_than_python_recurses_is_a_422_problem() -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).rstrip(b"=").decode()
    async with client() as http:
        response = await http.get("/items", params={"cursor": nested})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def build_db_app(sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/rows")
    async def list_rows(page: PageParamsDep) -> Page[int]:
        after = cursor_of(page.after, int, str)
        params = {"n": after[0], "s": after[1]} if after else {"n": 0, "s": ""}
        async with sessionmaker() as session:
            await session.execute(text("SELECT CAST(:n AS bigint), CAST(:s AS text)"), params)
        return Page[int](items=[])

    return app


@pytest.mark.parametrize(
    "tampered",
    [
        [2**63, "a"],  # beyond bigint
        [-(2**63) - 1, "a"],
        [1, "a\u0000b"],  # PostgreSQL text cannot hold NUL
        [1, "\ud800"],  # a lone surrogate cannot be encoded to UTF-8
    ],
)
async def test_a_tampered_cursor_the_database_cannot_take_is_a_422_problem(
    sessionmaker: async_sessionmaker[AsyncSession], tampered: list[Any]
) -> None:
    transport = httpx.ASGITransport(build_db_app(sessionmaker), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/rows", params={"cursor": raw_cursor(tampered)})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "cursor"


def test_a_boolean_is_not_an_integer_sort_key() -> None:
    with pytest.raises(UnprocessableError):
        cursor_of([True, "a"], int, str)
