"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from risk.api import routers
from risk.config import RiskSettings
from risk.consumers import consumer_specs
from risk.runtime import RiskRuntime


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: RiskRuntime
    routers: list[APIRouter]


def bootstrap(settings: RiskSettings, *, clock: Clock | None = None) -> Service:
    """Wire the risk service."""
    runtime = RiskRuntime(settings, clock=clock or SystemClock())
    registry = runtime.registry
    for spec in consumer_specs(
        settings=settings, outbox=runtime.outbox, clock=runtime.clock, registry=registry
    ):
        runtime.add_consumer(spec)

    async def refresh_models() -> None:
        await registry.run(
            runtime.sessionmaker, runtime.stop_requested, settings.model_refresh_interval_s
        )

    runtime.add_loop("model-registry", refresh_models)
    return Service(runtime=runtime, routers=routers())
