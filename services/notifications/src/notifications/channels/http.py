"""Shared handling of HTTP provider answers."""

from __future__ import annotations

from typing import Any

import httpx

from notifications.channels.base import PermanentFailure, TransientFailure


async def post(client: httpx.AsyncClient, url: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
    """POST and return the JSON answer; 408/429/5xx and network errors are transient."""
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise TransientFailure(f"{what} unreachable: {type(exc).__name__}") from exc
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        raise TransientFailure(f"{what} answered {response.status_code}")
    if response.status_code >= 400:
        raise PermanentFailure("rejected", f"{what} refused it ({response.status_code})")
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
