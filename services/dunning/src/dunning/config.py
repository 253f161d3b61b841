"""Settings of the dunning service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_platform.config import ServiceSettings


class DunningSettings(ServiceSettings):
    """Dunning configuration; everything else comes from the platform base."""

    service_name: str = "dunning"
    http_port: int = Field(default=8003, ge=1, le=65535)


@lru_cache
def get_settings() -> DunningSettings:
    """The process's settings, read once."""
    return DunningSettings()
