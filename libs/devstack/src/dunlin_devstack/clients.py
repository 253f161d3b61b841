"""Talking to a service app in tests: API keys and in-process HTTP clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform import auth


async def new_api_key(
    sessionmaker: async_sessionmaker[AsyncSession], scopes: Sequence[str], *, name: str = ""
) -> str:
    """Create an API key with the given scopes and return its plaintext."""
    async with sessionmaker() as session, session.begin():
        _, plaintext = await auth.create_api_key(
            session=session, name=name or f"test-{uuid.uuid4().hex[:6]}", scopes=list(scopes)
        )
    return plaintext


def asgi_client(app: FastAPI, name: str, key: str | None = None) -> httpx.AsyncClient:
    """An HTTP client calling the app in-process, with the key as bearer when given."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=headers
    )
