"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.runtime import ServiceRuntime
from payments.api import routers
from payments.config import PaymentsSettings
from payments.consumers import consumer_specs
from payments.db import PLATFORM_TABLES
from payments.sweep import add_loops


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: ServiceRuntime
    routers: list[APIRouter]


def bootstrap(settings: PaymentsSettings, *, clock: Clock | None = None) -> Service:
    """Wire the payments service."""
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, clock=clock or SystemClock())
    for spec in consumer_specs(settings=settings, outbox=runtime.outbox, clock=runtime.clock):
        runtime.add_consumer(spec)
    add_loops(runtime, settings=settings)
    return Service(runtime=runtime, routers=routers())
