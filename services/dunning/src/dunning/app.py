"""The dunning FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from dunlin_platform.app import create_service_app
from dunlin_platform.clock import Clock
from dunning.bootstrap import bootstrap
from dunning.config import DunningSettings, get_settings

DESCRIPTION = "Dunning: per-account escalation, promises to pay, holds and the collector worklist."


def create_app(settings: DunningSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; connections open in its lifespan, never here."""
    service = bootstrap(settings or get_settings(), clock=clock)
    return create_service_app(
        service.runtime,
        title="Dunlin dunning",
        description=DESCRIPTION,
        version="0.1.0",
        routers=service.routers,
    )
