"""Shared API plumbing: the runtime and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dunlin_platform.runtime import ServiceRuntime
from notifications.config import NotificationsSettings


def _runtime(request: Request) -> ServiceRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _settings(request: Request) -> NotificationsSettings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, NotificationsSettings)
    return settings


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[NotificationsSettings, Depends(_settings)]
