"""The risk runtime: the platform runtime plus the model registry, which readiness reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from dunlin_platform.clock import Clock
from dunlin_platform.runtime import ServiceRuntime
from risk.config import RiskSettings
from risk.db import PLATFORM_TABLES
from risk.registry import ModelRegistry


class RiskRuntime(ServiceRuntime):
    """Owns connections, loops and the scorer in use."""

    settings: RiskSettings

    def __init__(self, settings: RiskSettings, *, clock: Clock) -> None:
        super().__init__(settings, tables=PLATFORM_TABLES, clock=clock)
        self.registry = ModelRegistry()

    def readiness_checks(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        return {**super().readiness_checks(), "model": self.registry.check}
