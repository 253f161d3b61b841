"""Idempotency-Key on POST: replay, reuse, in-flight, failure and per-principal scoping."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Response
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dunlin_platform.auth import ApiKeyVerifier, create_api_key, require_scopes
from dunlin_platform.http.idempotency import (
    IdempotencyDep,
    idempotency_table,
    install_idempotency,
)
from dunlin_platform.http.problems import ProblemError, install_problem_handlers


class PaymentIn(BaseModel):
    amount: int


@dataclass
class Harness:
    app: FastAPI
    effects: Table
    keys: Table
    sessionmaker: async_sessionmaker[AsyncSession]
    alice: str
    bob: str

    def client(self, key: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": key}
        )

    async def count(self, table: Table) -> int:
        async with self.sessionmaker() as session:
            return int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )


def build_app(
    sessionmaker: async_sessionmaker[AsyncSession], metadata: MetaData, effects: Table
) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_idempotency(app)
    app.state.sessionmaker = sessionmaker
    app.state.idempotency_table = idempotency_table(metadata)
    app.state.api_key_verifier = ApiKeyVerifier(ttl=30)
    app.state.release = asyncio.Event()
    app.state.entered = asyncio.Event()
    write = [require_scopes("payments:write"), IdempotencyDep]

    @app.post("/payments", status_code=201, dependencies=write)
    async def record_payment(payment: PaymentIn, response: Response) -> dict[str, int]:
        async with sessionmaker() as session, session.begin():
            new_id = (
                await session.execute(
                    insert(effects).values(note=f"paid {payment.amount}").returning(effects.c.id)
                )
            ).scalar_one()
        response.headers["Location"] = f"/payments/{new_id}"
        return {"id": new_id, "amount": payment.amount}

    app.state.slow_runs = 0

    @app.post("/slow", dependencies=write)
    async def slow() -> dict[str, str]:
        app.state.slow_runs += 1
        app.state.entered.set()
        await app.state.release.wait()
        return {"status": "done"}

    @app.post("/crash", dependencies=write)
    async def crash() -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(insert(effects).values(note="crash attempt"))
        raise RuntimeError("database exploded")

    @app.post("/unavailable", dependencies=write)
    async def unavailable() -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(insert(effects).values(note="unavailable attempt"))
        raise ProblemError(503, detail="try later")

    return app


@pytest.fixture
async def harness(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], schema: str
) -> Harness:
    metadata = MetaData(schema=schema)
    effects = Table(
        "effects", metadata, Column("id", Integer, primary_key=True), Column("note", Text)
    )
    app = build_app(sessionmaker, metadata, effects)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with sessionmaker() as session, session.begin():
        _, alice = await create_api_key(session=session, name="alice", scopes=["payments:*"])
        _, bob = await create_api_key(session=session, name="bob", scopes=["*"])
    return Harness(app, effects, app.state.idempotency_table, sessionmaker, alice, bob)


def key() -> str:
    return f"idem-{uuid.uuid4()}"


async def test_repeat_with_same_key_and_body_replays_without_running_again(
    harness: Harness,
) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        first = await http.post("/payments", json={"amount": 100}, headers=headers)
        second = await http.post("/payments", json={"amount": 100}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await harness.count(harness.effects) == 1


async def test_same_key_with_a_different_body_is_a_422_problem(harness: Harness) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        await http.post("/payments", json={"amount": 100}, headers=headers)
        reused = await http.post("/payments", json={"amount": 999}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["type"] == "https://dunlin.dev/problems/idempotency-key-reused"
    assert await harness.count(harness.effects) == 1


async def test_same_key_with_a_different_query_is_a_422_problem(harness: Harness) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        first = await http.post("/payments?note=a", json={"amount": 100}, headers=headers)
        again = await http.post("/payments?note=a", json={"amount": 100}, headers=headers)
        reused = await http.post("/payments?note=b", json={"amount": 100}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert reused.status_code == 422
    assert reused.json()["type"] == "https://dunlin.dev/problems/idempotency-key-reused"
    assert await harness.count(harness.effects) == 1


async def test_repeat_while_the_first_is_in_flight_is_a_409_problem(harness: Harness) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        first = asyncio.create_task(http.post("/slow", headers=headers))
        await asyncio.wait_for(harness.app.state.entered.wait(), 5)
        concurrent = await http.post("/slow", headers=headers)
        harness.app.state.release.set()
        finished = await first
        after = await http.post("/slow", headers=headers)
    assert concurrent.status_code == 409
    assert concurrent.json()["type"] == "https://dunlin.dev/problems/idempotency-key-in-flight"
    assert concurrent.headers["retry-after"] == "1"
    assert finished.status_code == 200
    assert after.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("path", ["/crash", "/unavailable"])
async def test_server_errors_are_not_stored_so_the_client_may_retry(
    harness: Harness, path: str
) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        first = await http.post(path, headers=headers)
        retry = await http.post(path, headers=headers)
    assert first.status_code == retry.status_code
    assert first.status_code in (500, 503)
    assert "idempotent-replayed" not in retry.headers
    assert await harness.count(harness.effects) == 2
    assert await harness.count(harness.keys) == 0


async def test_keys_are_scoped_per_principal(harness: Harness) -> None:
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as alice, harness.client(harness.bob) as bob:
        mine = await alice.post("/payments", json={"amount": 5}, headers=headers)
        theirs = await bob.post("/payments", json={"amount": 7}, headers=headers)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert await harness.count(harness.effects) == 2


async def test_without_a_key_every_post_runs(harness: Harness) -> None:
    async with harness.client(harness.alice) as http:
        for _ in range(2):
            assert (await http.post("/payments", json={"amount": 1})).status_code == 201
    assert await harness.count(harness.effects) == 2
    assert await harness.count(harness.keys) == 0


async def test_a_stale_in_flight_claim_is_taken_over(harness: Harness) -> None:
    headers = {"Idempotency-Key": key()}
    harness.app.state.release.set()
    async with harness.client(harness.alice) as http:
        assert (await http.post("/slow", headers=headers)).status_code == 200
        # Make it look like a crashed first attempt: in flight and older than the lock timeout.
        async with harness.sessionmaker() as session, session.begin():
            await session.execute(
                harness.keys.update()
                .where(harness.keys.c.key == headers["Idempotency-Key"])
                .values(status=None, created_at=func.now() - timedelta(minutes=5))
            )
        retried = await http.post("/slow", headers=headers)
        replayed = await http.post("/slow", headers=headers)
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_a_request_running_longer_than_the_lock_timeout_keeps_its_claim(
    harness: Harness,
) -> None:
    harness.app.state.idempotency_lock_timeout = timedelta(milliseconds=300)
    headers = {"Idempotency-Key": key()}
    async with harness.client(harness.alice) as http:
        first = asyncio.create_task(http.post("/slow", headers=headers))
        await asyncio.wait_for(harness.app.state.entered.wait(), 5)
        await asyncio.sleep(1.0)  # over three lock timeouts: only renewal keeps it fresh
        # A takeover would run /slow a second time, blocked like the first: bounded wait.
        retry = await asyncio.wait_for(http.post("/slow", headers=headers), 5)
        harness.app.state.release.set()
        finished = await first
        after = await http.post("/slow", headers=headers)
    assert retry.status_code == 409, "a live request's claim is not taken over"
    assert harness.app.state.slow_runs == 1
    assert finished.status_code == 200
    assert after.headers["idempotent-replayed"] == "true", "the renewed claim stored its response"


@pytest.mark.parametrize("bad", ["", "k" * 256])
async def test_key_outside_1_to_255_chars_is_a_422_problem(harness: Harness, bad: str) -> None:
    async with harness.client(harness.alice) as http:
        response = await http.post(
            "/payments", json={"amount": 1}, headers={"Idempotency-Key": bad}
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "header"
    assert await harness.count(harness.effects) == 0
