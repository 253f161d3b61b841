"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.runtime import ServiceRuntime
from dunning.api import routers
from dunning.config import DunningSettings
from dunning.consumers import consumer_specs
from dunning.db import PLATFORM_TABLES
from dunning.metrics import add_metric_loops
from dunning.sweep import add_sweep_loop


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: ServiceRuntime
    routers: list[APIRouter]


def bootstrap(settings: DunningSettings, *, clock: Clock | None = None) -> Service:
    """Wire the dunning service."""
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, clock=clock or SystemClock())
    for spec in consumer_specs(settings=settings, outbox=runtime.outbox, clock=runtime.clock):
        runtime.add_consumer(spec)
    add_sweep_loop(runtime, settings=settings)
    add_metric_loops(runtime, interval_s=settings.cases_gauge_interval_s)
    return Service(runtime=runtime, routers=routers())
