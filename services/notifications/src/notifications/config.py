"""Settings of the notifications service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_platform.config import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Notifications configuration; everything else comes from the platform base."""

    service_name: str = "notifications"
    http_port: int = Field(default=8005, ge=1, le=65535)


@lru_cache
def get_settings() -> NotificationsSettings:
    """The process's settings, read once."""
    return NotificationsSettings()
