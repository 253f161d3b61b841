"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.runtime import ServiceRuntime
from notifications.api import callback_routers, routers
from notifications.channels.registry import build_adapters
from notifications.config import NotificationsSettings
from notifications.consumers import consumer_specs
from notifications.db import PLATFORM_TABLES
from notifications.handlers.worker import DeliveryWorker
from notifications.loops import delivery_loop


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: ServiceRuntime
    worker: DeliveryWorker
    routers: list[APIRouter]
    public_routers: list[APIRouter]
    close: Callable[[], Awaitable[None]]
    """Closes the adapters and stops the PDF workers (the delivery loop calls it at its end)."""


def bootstrap(
    settings: NotificationsSettings, *, clock: Clock | None = None, run_worker: bool = True
) -> Service:
    """Wire the notifications service."""
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, clock=clock or SystemClock())
    adapters, close_adapters = build_adapters(settings, clock=runtime.clock)
    worker = DeliveryWorker(runtime, settings, adapters)

    async def close() -> None:
        await close_adapters()
        await asyncio.to_thread(worker.documents.close)

    for spec in consumer_specs(settings=settings, clock=runtime.clock, wake=worker.wake):
        runtime.add_consumer(spec)
    if run_worker:
        runtime.add_loop("delivery-worker", delivery_loop(runtime, worker, settings, close=close))
    return Service(
        runtime=runtime,
        worker=worker,
        routers=routers(),
        public_routers=callback_routers(),
        close=close,
    )
