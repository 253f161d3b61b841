"""The risk FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from dunlin_platform.app import create_service_app
from dunlin_platform.clock import Clock
from risk.bootstrap import bootstrap
from risk.config import RiskSettings, get_settings

DESCRIPTION = "Risk: early-warning signals, explainable scores, credit-limit recommendations."


def create_app(settings: RiskSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; connections open in its lifespan, never here."""
    service = bootstrap(settings or get_settings(), clock=clock)
    return create_service_app(
        service.runtime,
        title="Dunlin risk",
        description=DESCRIPTION,
        version="0.1.0",
        routers=service.routers,
    )
