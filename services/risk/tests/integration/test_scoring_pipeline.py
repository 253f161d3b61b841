"""Events in through the real consumer; scores, reasons, history and events out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_devstack.topics import envelope_of, read_topic
from dunlin_events import KafkaRecord, RiskAssessed, topics
from dunlin_events.testing import (
    external_signal_reported,
    invoice_adjusted,
    promise_to_pay_broken,
)
from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES, ScoreHistoryRow

from .support import account, eventually, invoice, publish, record, send, settled, unique

START = dt.date(2025, 1, 6)


async def _risk(client: httpx.AsyncClient, account_id: str) -> dict[str, Any]:
    response = await client.get(f"/accounts/{account_id}/risk")
    return response.json() if response.status_code == 200 else {}


async def _scored(client: httpx.AsyncClient, account_id: str, predicate: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await _risk(client, account_id))
        return bool(found.get("score") is not None and predicate(found))

    await eventually(check)
    return found


async def test_late_settlements_are_scored_with_reasons_and_published(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = account()
    issued = [
        invoice(acc.account_id, "1000.00", START + dt.timedelta(days=30 * i)) for i in range(6)
    ]
    late = [settled(inv, 25) for inv in issued[:5]]
    await send(settings, acc, *issued, *late)
    # The settlements may be applied over several batches: the share needs three of them.
    lateness = {"LATE_SHARE", "AVG_DAYS_LATE"}
    risk = await _scored(
        client, acc.account_id, lambda r: lateness <= {x["code"] for x in r["reasons"]}
    )
    assert lateness <= {r["code"] for r in risk["reasons"]}
    assert risk["history"]
    published = await read_topic(
        settings.kafka_bootstrap_servers,
        topics.RISK_EVENTS,
        lambda m: m.key == acc.account_id.encode(),
        count=1,
    )
    event = envelope_of(published[-1]).data
    assert isinstance(event, RiskAssessed)
    assert event.model_version == "transparent-v1"
    # The score shows lateness after the first settlement; the others may still be in flight.
    predictions: dict[str, Any] = {}

    async def all_settled() -> bool:
        response = await client.get(f"/accounts/{acc.account_id}/payment-predictions")
        predictions.update(response.json())
        return sum(1 for p in predictions["items"] if p["error_days"] is not None) == 5

    await eventually(all_settled)
    assert len(predictions["items"]) == 6
    accuracy = (await client.get("/payment-predictions/accuracy")).json()
    assert accuracy["settled"] >= 5


async def test_a_broken_promise_raises_the_score_with_its_reason(
    settings: RiskSettings, client: httpx.AsyncClient
) -> None:
    acc = account()
    await send(settings, acc)
    before = await _scored(client, acc.account_id, lambda r: True)
    broken = promise_to_pay_broken(account_id=acc.account_id, promise_id=unique("ptp"))
    await send(settings, broken)
    after = await _scored(client, acc.account_id, lambda r: r["score"] > before["score"])
    assert after["reasons"][0]["code"] == "BROKEN_PROMISES"


async def test_duplicate_events_change_nothing(
    settings: RiskSettings,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    acc = account()
    signal = external_signal_reported(
        account_id=acc.account_id, signal_id=unique("sig"), observed_on="2025-06-01"
    )
    same_signal_again = signal.model_copy()
    acc_record = record(acc)
    # The registration is scored on its own first (score 5, published), then the signal moves
    # the score by 9 points (published again): two history rows whether or not both messages
    # land in one batch would be a timing coincidence, so the test orders them explicitly.
    await publish(settings.kafka_bootstrap_servers, settings.invoicing_events_topic, acc_record)
    await _scored(client, acc.account_id, lambda r: True)
    await send(settings, signal)
    first = await _scored(
        client, acc.account_id, lambda r: any(x["code"] == "BUREAU_DOWNGRADE" for x in r["reasons"])
    )
    published_before = await _published(sessionmaker, acc.account_id)
    assert published_before == (2, 2)
    # the same envelope again, then (same partition) an adjustment of an invoice risk does not
    # know, which changes nothing; and the same signal under a new envelope id
    adjustment = record(
        invoice_adjusted(
            account_id=acc.account_id, invoice_id=unique("x"), effective_date="2025-06-01"
        )
    )
    signal_again = record(same_signal_again, source="/erp/bureau")
    await publish(
        settings.kafka_bootstrap_servers, settings.invoicing_events_topic, acc_record, adjustment
    )
    await publish(settings.kafka_bootstrap_servers, settings.risk_signals_topic, signal_again)
    await eventually(lambda: _consumed(sessionmaker, [_id(adjustment), _id(signal_again)]))
    again = await _risk(client, acc.account_id)
    assert again["score"] == first["score"]
    assert again["reasons"] == first["reasons"]
    assert await _published(sessionmaker, acc.account_id) == published_before


async def _published(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: str
) -> tuple[int, int]:
    """History rows and RiskAssessed events staged for an account."""
    outbox = PLATFORM_TABLES.outbox
    async with sessionmaker() as session:
        history = select(func.count()).where(ScoreHistoryRow.account_id == account_id)
        events = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.aggregateid == account_id, outbox.c.aggregatetype == "RiskAssessed")
        )
        return (
            int((await session.execute(history)).scalar_one()),
            int((await session.execute(events)).scalar_one()),
        )


def _id(item: KafkaRecord) -> str:
    return dict(item.headers)["ce_id"].decode()


async def _consumed(sessionmaker: async_sessionmaker[AsyncSession], ids: list[str]) -> bool:
    inbox = PLATFORM_TABLES.inbox
    async with sessionmaker() as session:
        query = select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
        return int((await session.execute(query)).scalar_one()) == len(ids)


async def test_riskiest_accounts_come_first_and_page(client: httpx.AsyncClient) -> None:
    first = (await client.get("/portfolio/riskiest", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    scores = [i["score"] for i in first["items"]]
    assert scores == sorted(scores, reverse=True)
    following = (
        await client.get("/portfolio/riskiest", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert following["items"]
    assert following["items"][0]["score"] <= scores[-1]
    movers = (await client.get("/portfolio/movers", params={"days": 30})).json()
    assert all("change" in m for m in movers["items"])
    # Keyset pages: every mover exactly once, by absolute change then id.
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"days": 30, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/portfolio/movers", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [m["account_id"] for m in seen] == [m["account_id"] for m in movers["items"]]
    keys = [(-abs(m["change"]), m["account_id"]) for m in seen]
    assert keys == sorted(keys)
    bad = await client.get("/portfolio/riskiest", params={"cursor": "!!"})
    assert bad.status_code == 422
