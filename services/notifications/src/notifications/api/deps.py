"""Shared API plumbing: the runtime, the settings and the delivery worker."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dunlin_platform.runtime import ServiceRuntime
from notifications.config import NotificationsSettings
from notifications.handlers.worker import DeliveryWorker


def _runtime(request: Request) -> ServiceRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


def _settings(request: Request) -> NotificationsSettings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, NotificationsSettings)
    return settings


def _worker(request: Request) -> DeliveryWorker:
    worker = request.app.state.worker
    assert isinstance(worker, DeliveryWorker)
    return worker


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[NotificationsSettings, Depends(_settings)]
WorkerDep = Annotated[DeliveryWorker, Depends(_worker)]
