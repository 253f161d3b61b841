"""Settings of the risk service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_events import topics
from dunlin_platform.config import ServiceSettings


class RiskSettings(ServiceSettings):
    """Risk configuration; everything else comes from the platform base."""

    service_name: str = "risk"
    http_port: int = Field(default=8004, ge=1, le=65535)
    invoicing_events_topic: str = topics.INVOICING_EVENTS
    payments_events_topic: str = topics.PAYMENTS_EVENTS
    dunning_events_topic: str = topics.DUNNING_EVENTS
    risk_signals_topic: str = topics.RISK_SIGNALS
    model_refresh_interval_s: float = Field(
        default=30.0, gt=0, description="How often the active model version is checked."
    )
    rescore_chunk_size: int = Field(default=5000, ge=1, le=50_000)
    rescore_processes: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Processes (this one included) a full rescoring shares its ranges among.",
    )

    @property
    def consumed_topics(self) -> list[str]:
        """Every topic the scoring consumer reads."""
        return [
            self.invoicing_events_topic,
            self.payments_events_topic,
            self.dunning_events_topic,
            self.risk_signals_topic,
        ]


@lru_cache
def get_settings() -> RiskSettings:
    """The process's settings, read once."""
    return RiskSettings()
