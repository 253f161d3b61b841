"""Settings of the dunning service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_events import topics
from dunlin_platform.config import ServiceSettings


class DunningSettings(ServiceSettings):
    """Dunning configuration; everything else comes from the platform base."""

    service_name: str = "dunning"
    http_port: int = Field(default=8003, ge=1, le=65535)
    invoicing_events_topic: str = Field(default=topics.INVOICING_EVENTS)
    payments_events_topic: str = Field(default=topics.PAYMENTS_EVENTS)
    risk_events_topic: str = Field(default=topics.RISK_EVENTS)
    notifications_events_topic: str = Field(default=topics.NOTIFICATIONS_EVENTS)
    sweep_interval_s: float = Field(default=30.0, gt=0, description="How often due cases run.")
    cases_gauge_interval_s: float = Field(
        default=60.0, ge=0, description="How often open cases are counted by step (0: never)."
    )
    sweep_batch_size: int = Field(
        default=1000, ge=1, le=20_000, description="Cases per transaction."
    )
    sweep_workers: int = Field(
        default=2, ge=1, le=16, description="Batches in flight at once (SKIP LOCKED)."
    )
    sweep_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Forked processes that sweep when more than one batch is due (1: the "
        "service's own process only), each with `sweep_workers` batches in flight.",
    )


@lru_cache
def get_settings() -> DunningSettings:
    """The process's settings, read once."""
    return DunningSettings()
