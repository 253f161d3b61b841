"""Publishing requests, waiting for them, and reading what the service published."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from dunlin_devstack.topics import envelope_of, read_topic
from dunlin_events import Event, NotificationRequested, encode, new_envelope, topics
from dunlin_events.testing import notification_requested
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker


def request(**overrides: Any) -> NotificationRequested:
    """A reminder e-mail request for a fresh account, letter as fallback."""
    return notification_requested(**({"account_id": f"acc-{uuid.uuid4().hex[:10]}"} | overrides))


async def publish(
    settings: NotificationsSettings, *events: Event, raw: bytes | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            record = encode(new_envelope(event, source="/dunlin/dunning"))
            await producer.send_and_wait(
                settings.dunning_events_topic, record.value, key=record.key, headers=record.headers
            )
        if raw is not None:
            await producer.send_and_wait(settings.dunning_events_topic, raw, key=b"bad")
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], *, within_s: float = 30.0) -> None:
    async with asyncio.timeout(within_s):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.1)


async def delivery_of(client: httpx.AsyncClient, req: NotificationRequested) -> dict[str, Any]:
    """The delivery recorded for the request, once the consumer has it."""
    found: dict[str, Any] = {}

    async def recorded() -> bool:
        page = (await client.get("/deliveries", params={"account_id": req.account_id})).json()
        matches = [d for d in page["items"] if d["notification_id"] == req.notification_id]
        if matches:
            found.update(matches[0])
        return bool(matches)

    await eventually(recorded)
    return found


async def get(client: httpx.AsyncClient, delivery_id: str) -> dict[str, Any]:
    response = await client.get(f"/deliveries/{delivery_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def submit(
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    worker: DeliveryWorker,
    req: NotificationRequested,
) -> dict[str, Any]:
    """Publish, wait until recorded, run a worker round, return the delivery."""
    await publish(settings, req)
    delivery = await delivery_of(client, req)
    await worker.run_once()
    return await get(client, delivery["id"])


async def outcomes(bootstrap: str, notification_id: str, count: int) -> list[Event]:
    """The first `count` outcome events published for a notification."""
    needle = notification_id.encode()
    records = await read_topic(
        bootstrap,
        topics.NOTIFICATIONS_EVENTS,
        lambda r: needle in (r.value or b""),
        count=count,
    )
    return [envelope_of(r).data for r in records]
