"""API keys authenticate callers and their scopes authorise them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.auth import (
    ApiKeyVerifier,
    Principal,
    authenticate,
    create_api_key,
    get_api_key,
    require_scopes,
    revoke_api_key,
    verify_api_key,
)
from dunlin_platform.http.problems import install_problem_handlers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build_app(sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.sessionmaker = sessionmaker
    app.state.api_key_verifier = ApiKeyVerifier(ttl=30, clock=clock)

    @app.get("/whoami")
    async def whoami(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, str]:
        return {"key_id": principal.key_id, "name": principal.name}

    @app.get("/invoices", dependencies=[require_scopes("invoices:read")])
    async def list_invoices() -> list[str]:
        return []

    @app.post("/accounts", dependencies=[require_scopes("accounts:write", "invoices:read")])
    async def register_account() -> dict[str, str]:
        return {"status": "registered"}

    return app


async def new_key(
    sessionmaker: async_sessionmaker[AsyncSession], *scopes: str, expires_at: datetime | None = None
) -> tuple[str, str]:
    async with sessionmaker() as session, session.begin():
        record, plaintext = await create_api_key(
            session=session,
            name=f"test-{uuid.uuid4().hex[:8]}",
            scopes=scopes,
            expires_at=expires_at,
        )
    return record.id, plaintext


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock) -> FastAPI:
    return build_app(sessionmaker, clock)


def test_wildcards_grant_all_or_a_resources_actions() -> None:
    everything = Principal("k", "n", frozenset({"*"}))
    invoices = Principal("k", "n", frozenset({"invoices:*", "admin"}))
    assert everything.has("accounts:write")
    assert everything.has("admin")
    assert invoices.has("invoices:read")
    assert invoices.has("invoices:write")
    assert invoices.has("admin")
    assert not invoices.has("accounts:write")
    assert not invoices.has("invoices")


async def test_missing_key_is_a_401_problem_asking_for_bearer(app: FastAPI) -> None:
    async with client(app) as http:
        response = await http.get("/whoami")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "presented",
    ["nonsense", "dk_00000000_" + "x" * 43, "Basic dXNlcjpwYXNz"],
)
async def test_bad_key_is_a_401_problem(app: FastAPI, presented: str) -> None:
    async with client(app) as http:
        response = await http.get("/whoami", headers={"Authorization": f"Bearer {presented}"})
    assert response.status_code == 401


async def test_tampered_secret_is_rejected(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, plaintext = await new_key(sessionmaker, "invoices:read")
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    async with client(app) as http:
        response = await http.get("/whoami", headers={"X-API-Key": tampered})
    assert response.status_code == 401


async def test_valid_key_via_bearer_or_x_api_key_identifies_the_caller(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    key_id, plaintext = await new_key(sessionmaker, "invoices:read")
    async with client(app) as http:
        bearer = await http.get("/whoami", headers={"Authorization": f"Bearer {plaintext}"})
        header = await http.get("/whoami", headers={"X-API-Key": plaintext})
    assert bearer.json()["key_id"] == header.json()["key_id"] == key_id
    # A gateway's own Basic credentials do not hide the key sent as X-API-Key.
    async with client(app) as http:
        behind_proxy = await http.get(
            "/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": plaintext}
        )
        only_basic = await http.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert behind_proxy.json()["key_id"] == key_id
    assert only_basic.status_code == 401
    async with sessionmaker() as session:
        record = await get_api_key(session=session, key_id=key_id)
    assert record is not None
    assert record.last_used_at is not None


async def test_revoked_key_is_refused_once_the_cache_ttl_passes(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    key_id, plaintext = await new_key(sessionmaker, "invoices:read")
    headers = {"X-API-Key": plaintext}
    async with client(app) as http:
        assert (await http.get("/whoami", headers=headers)).status_code == 200
        async with sessionmaker() as session, session.begin():
            await revoke_api_key(session=session, key_id=key_id)
        clock.now += 10
        assert (await http.get("/whoami", headers=headers)).status_code == 200  # still cached
        clock.now += 25
        assert (await http.get("/whoami", headers=headers)).status_code == 401


async def test_expired_key_is_refused(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    _, plaintext = await new_key(sessionmaker, "*", expires_at=past)
    async with sessionmaker() as session, session.begin():
        assert await verify_api_key(session=session, presented=plaintext) is None


async def test_missing_scope_is_a_403_problem_naming_it(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, plaintext = await new_key(sessionmaker, "invoices:read")
    async with client(app) as http:
        response = await http.post("/accounts", headers={"X-API-Key": plaintext})
    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["accounts:write"]


@pytest.mark.parametrize("scopes", [("invoices:read",), ("invoices:*",), ("*",)])
async def test_granted_scope_is_allowed(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], scopes: tuple[str, ...]
) -> None:
    _, plaintext = await new_key(sessionmaker, *scopes)
    async with client(app) as http:
        response = await http.get("/invoices", headers={"X-API-Key": plaintext})
    assert response.status_code == 200


async def test_invalid_scopes_are_refused_at_creation(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(ValueError, match="invalid scope"):
        await new_key(sessionmaker, "Invoices Read")


async def test_a_key_id_drawn_twice_is_drawn_again_not_a_failed_create(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, _ = await new_key(sessionmaker, "invoices:read")
    draws = iter([taken, taken, "0123abcd" if taken != "0123abcd" else "abcd0123"])
    monkeypatch.setattr("dunlin_platform.auth.keys.secrets.token_hex", lambda _n: next(draws))
    key_id, plaintext = await new_key(sessionmaker, "invoices:read")
    assert key_id != taken
    assert plaintext.startswith(f"dk_{key_id}_")
    async with client(app) as http:
        response = await http.get("/whoami", headers={"X-API-Key": plaintext})
    assert response.json()["key_id"] == key_id
