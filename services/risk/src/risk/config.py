"""Settings of the risk service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_platform.config import ServiceSettings


class RiskSettings(ServiceSettings):
    """Risk configuration; everything else comes from the platform base."""

    service_name: str = "risk"
    http_port: int = Field(default=8004, ge=1, le=65535)


@lru_cache
def get_settings() -> RiskSettings:
    """The process's settings, read once."""
    return RiskSettings()
