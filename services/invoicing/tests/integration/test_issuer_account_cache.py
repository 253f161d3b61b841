"""The issuer keeps the accounts it built batches from, and never issues from a stale one."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from dunlin_platform.runtime import ServiceRuntime
from invoicing.domain import Account
from invoicing.issuer import AccountCache
from invoicing.repository import issue_batch

from .support import account_body, invoice_body, unique


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The account ids of every account read the issuer makes (the real reads)."""
    real_read = issue_batch.read_accounts
    seen: list[set[str]] = []

    async def counted(
        *, connection: asyncpg.Connection, account_ids: Collection[str]
    ) -> dict[str, Account]:
        seen.append(set(account_ids))
        return await real_read(connection=connection, account_ids=account_ids)

    monkeypatch.setattr(issue_batch, "read_accounts", counted)
    return seen


async def test_a_later_batch_for_the_same_account_does_not_read_it_again(
    client: httpx.AsyncClient, reads: list[set[str]]
) -> None:
    account_id = (await client.post("/accounts", json=account_body())).json()["id"]

    for _ in range(3):
        created = await client.post("/invoices", json=invoice_body(account_id))
        assert created.status_code == 201, created.text

    assert [r for r in reads if account_id in r] == [{account_id}]


async def test_an_account_changed_after_it_was_kept_is_read_again_before_issuing(
    client: httpx.AsyncClient, reads: list[set[str]]
) -> None:
    account_id = (await client.post("/accounts", json=account_body())).json()["id"]
    first = await client.post("/invoices", json=invoice_body(account_id))
    assert first.status_code == 201, first.text
    changed = await client.patch(
        f"/accounts/{account_id}", json={"payment_terms": {"kind": "net", "days": 60}}
    )
    assert changed.status_code == 200, changed.text

    second = await client.post("/invoices", json=invoice_body(account_id))

    assert second.status_code == 201, second.text
    assert first.json()["payment_terms"] == {"kind": "net", "days": 30}
    assert second.json()["payment_terms"] == {"kind": "net", "days": 60}
    assert second.json()["due_date"] == "2025-05-09"  # 2025-03-10 + 60 days
    assert len([r for r in reads if account_id in r]) == 2


async def test_an_unknown_account_is_looked_up_every_time(
    client: httpx.AsyncClient, reads: list[set[str]]
) -> None:
    nobody = unique("nobody")

    for _ in range(2):
        refused = await client.post("/invoices", json=invoice_body(nobody))
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("unknown-account")

    assert len([r for r in reads if nobody in r]) == 2


async def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_used(
    client: httpx.AsyncClient, app: FastAPI, reads: list[set[str]]
) -> None:
    first, second = [
        (await client.post("/accounts", json=account_body())).json()["id"] for _ in range(2)
    ]
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    cache = AccountCache(max_entries=1)
    async with runtime.engine.connect() as pooled:
        driver = (await pooled.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection)
        assert set(await cache.read(connection=driver, account_ids=[first])) == {first}
        assert set(await cache.read(connection=driver, account_ids=[second])) == {second}
        assert set(await cache.read(connection=driver, account_ids=[second])) == {second}
        assert set(await cache.read(connection=driver, account_ids=[first])) == {first}

    assert reads == [{first}, {second}, {first}]
