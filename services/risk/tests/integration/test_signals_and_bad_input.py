"""Signals over HTTP and the topic: held for unknown accounts, deduplicated, bad ones refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.topics import read_topic
from dunlin_events import Event, KafkaRecord, topics
from dunlin_events.testing import external_signal_reported
from dunlin_platform.clock import ManualClock
from risk.config import RiskSettings
from risk.db import ModelRow
from risk.runtime import RiskRuntime

from .support import account, eventually, publish, record, send, unique


def _signal(account_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "account_id": account_id,
        "signal_id": unique("sig"),
        "kind": "negative_news",
        "source": "newswire",
        "severity": 4,
        "observed_on": "2025-05-30",
        "text": "Supplier reports unpaid bills",
    }
    return body | overrides


async def _codes(client: httpx.AsyncClient, account_id: str) -> set[str]:
    response = await client.get(f"/accounts/{account_id}/risk")
    if response.status_code != 200:
        return set()
    return {r["code"] for r in response.json()["reasons"]}


async def test_a_posted_signal_is_applied_once_per_signal_id(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = await _scored_account(settings, client)
    body = _signal(acc.account_id)
    first = await client.post("/signals", json=body, headers={"Idempotency-Key": unique("k")})
    assert first.status_code == 202
    assert first.json()["status"] == "applied"
    assert "NEGATIVE_NEWS" in await _codes(client, acc.account_id)
    again = await client.post("/signals", json=body, headers={"Idempotency-Key": unique("k")})
    assert again.json()["status"] == "duplicate"
    assert again.json()["score"] == first.json()["score"]


async def _has_score(client: httpx.AsyncClient, account_id: str) -> bool:
    response = await client.get(f"/accounts/{account_id}/risk")
    return response.status_code == 200 and response.json()["score"] is not None


async def _scored_account(settings: RiskSettings, client: httpx.AsyncClient) -> Event:
    """A new account, registered and scored."""
    acc = account()
    await send(settings, acc)
    await eventually(lambda: _has_score(client, acc.account_id))
    return acc


async def test_a_credit_terms_request_over_http_raises_the_score(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = await _scored_account(settings, client)
    before = (await client.get(f"/accounts/{acc.account_id}/risk")).json()["score"]
    body = _signal(acc.account_id, kind="credit_terms_request", requested_terms_days=90)
    accepted = await client.post("/signals", json=body)
    assert accepted.json()["score"] > before
    assert "CREDIT_TERMS_REQUESTS" in await _codes(client, acc.account_id)


async def test_a_malformed_posted_signal_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/signals", json=_signal("acc-1", severity=9, kind="rumour"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"severity", "kind"} <= {f.split(".")[-1] for f in fields}


async def test_a_signal_dated_in_the_future_is_refused_and_does_not_age_the_account(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = await _scored_account(settings, client)
    before = (await client.get(f"/accounts/{acc.account_id}/risk")).json()
    response = await client.post("/signals", json=_signal(acc.account_id, observed_on="2099-05-30"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["observed_on"]
    after = (await client.get(f"/accounts/{acc.account_id}/risk")).json()
    assert (after["score"], after["reasons"]) == (before["score"], before["reasons"])


async def test_a_signal_for_an_unknown_erp_account_is_kept_and_applied_when_it_appears(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    erp_id = unique("ERP")
    signal = external_signal_reported(
        account_id=erp_id, id_kind="external", signal_id=unique("sig"), observed_on="2025-05-20"
    )
    await send(settings, signal)

    async def held() -> bool:
        waiting = (await client.get("/signals", params={"waiting": "true", "limit": 500})).json()
        return any(s["signal_id"] == signal.signal_id for s in waiting["items"])

    await eventually(held)
    posted = _signal(erp_id, id_kind="external", kind="insolvency_notice", severity=5)
    reply = await client.post("/signals", json=posted)
    assert reply.json()["status"] == "held"
    acc = account(external_id=erp_id)
    await send(settings, acc)

    async def applied() -> bool:
        return {"BUREAU_DOWNGRADE", "INSOLVENCY_NOTICE"} <= await _codes(client, acc.account_id)

    await eventually(applied)
    mine = (await client.get("/signals", params={"account_id": acc.account_id})).json()
    assert len(mine["items"]) == 2
    risk = (await client.get(f"/accounts/{acc.account_id}/risk")).json()
    assert risk["tier"] in ("high", "critical")


async def test_a_malformed_signal_on_the_topic_goes_to_the_dlq_and_the_next_is_applied(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = account()
    good = record(external_signal_reported(account_id=acc.account_id, signal_id=unique("sig")))
    body = json.loads(good.value)
    body["severity"] = 42
    bad = KafkaRecord(key=good.key, value=json.dumps(body).encode(), headers=good.headers)
    fine = external_signal_reported(
        account_id=acc.account_id, signal_id=unique("sig"), observed_on="2025-05-01"
    )
    await send(settings, acc)
    await publish(settings.kafka_bootstrap_servers, settings.risk_signals_topic, bad)
    await send(settings, fine)
    dead = await read_topic(
        settings.kafka_bootstrap_servers,
        topics.dlq_topic(settings.risk_signals_topic),
        lambda m: m.key == acc.account_id.encode(),
        count=1,
    )
    assert dead

    async def applied() -> bool:
        return "BUREAU_DOWNGRADE" in await _codes(client, acc.account_id)

    await eventually(applied)


async def test_a_signal_on_the_topic_dated_in_the_future_goes_to_the_dlq(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = account()
    future = external_signal_reported(
        account_id=acc.account_id, signal_id=unique("sig"), observed_on="2099-05-30"
    )
    fine = external_signal_reported(
        account_id=acc.account_id, signal_id=unique("sig"), observed_on="2025-05-01"
    )
    await send(settings, acc)
    await send(settings, future)
    await send(settings, fine)
    [dead] = await read_topic(
        settings.kafka_bootstrap_servers,
        topics.dlq_topic(settings.risk_signals_topic),
        lambda m: m.key == acc.account_id.encode(),
        count=1,
    )
    assert b"in the future" in dict(dead.headers)["dlq_error"]

    async def applied() -> bool:
        return "BUREAU_DOWNGRADE" in await _codes(client, acc.account_id)

    await eventually(applied)
    mine = (await client.get("/signals", params={"account_id": acc.account_id})).json()
    assert [s["signal_id"] for s in mine["items"]] == [fine.signal_id]


async def test_a_model_that_fails_to_load_keeps_the_previous_one_and_says_so(
    runtime: RiskRuntime,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(
            ModelRow(
                version=unique("broken"),
                kind="logistic",
                params={"features": ["NOT_A_SIGNAL"], "coef": [1.0]},
                metrics={},
                trained_on="test",
                active=True,
                created_at=clock.now(),
            )
        )
    try:
        await runtime.registry.refresh(sessionmaker)
        assert runtime.registry.version == "transparent-v1"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "transparent-v1 stays active" in ready.json()["checks"]["model"]
        metrics = (await client.get("/metrics")).text
        failed = [line for line in metrics.splitlines() if 'kind="load_failed"' in line]
        assert failed
        assert failed[0].endswith(" 1.0")
    finally:
        async with sessionmaker() as session, session.begin():
            await session.execute(update(ModelRow).values(active=False))
        await runtime.registry.refresh(sessionmaker)
    assert runtime.registry.load_error is None


async def test_full_rescoring_scores_every_account_as_of_a_later_day(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/admin/rescore", json={"as_of": "2025-12-31"})
    assert response.status_code == 200
    assert response.json()["accounts"] >= 1
    assert response.json()["model_version"] == "transparent-v1"
    assert (await client.post("/admin/rescore", json={"as_of": "soon"})).status_code == 422
