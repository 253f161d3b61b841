"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.runtime import ServiceRuntime
from risk.api import routers
from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: ServiceRuntime
    routers: list[APIRouter]


def bootstrap(settings: RiskSettings, *, clock: Clock | None = None) -> Service:
    """Wire the risk service."""
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, clock=clock or SystemClock())
    return Service(runtime=runtime, routers=routers())
