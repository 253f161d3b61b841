"""Lists page with an opaque cursor and a bounded limit."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from dunlin_platform.http.pagination import (
    Page,
    PageParamsDep,
    build_page,
    decode_cursor,
    encode_cursor,
)
from dunlin_platform.http.problems import install_problem_handlers


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


async def test_a_cursor_nested_deeper_than_python_recurses_is_a_422_problem() -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).rstrip(b"=").decode()
    async with client() as http:
        response = await http.get("/items", params={"cursor": nested})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
