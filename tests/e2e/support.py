"""Helpers of the end-to-end suite: publish like an ERP, wait for effects, read topics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from dunlin_devstack.topics import envelope_of, read_topic
from dunlin_events import Event, encode, new_envelope


async def publish(bootstrap: str, topic: str, *events: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for event in events:
            record = encode(new_envelope(event, source="/erp/e2e"))
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 60.0) -> Any:
    """Poll until check() returns something truthy; return it."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"condition not met in {within}s; last value {last!r}")


async def sweep(dunning: Any) -> int:
    """Run the dunning due sweep through its admin endpoint; how many cases it executed.

    A refusal fails with the problem document, so a failure under load says what went wrong.
    """
    response = await dunning.post("/admin/dunning-sweep")
    assert response.status_code == 200, f"sweep answered {response.status_code}: {response.text}"
    return int(response.json()["cases"])


async def events_on(bootstrap: str, topic: str, cls: type[Event], subject: str) -> list[Any]:
    """The events of one type and account published on a topic so far."""
    envelopes = [envelope_of(m) for m in await read_topic(bootstrap, topic)]
    return [e.data for e in envelopes if e.subject == subject and isinstance(e.data, cls)]
