"""The notifications FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from dunlin_platform.app import create_service_app
from dunlin_platform.clock import Clock
from notifications.bootstrap import bootstrap
from notifications.config import NotificationsSettings, get_settings

DESCRIPTION = (
    "Notifications: templates and delivery by e-mail, SMS, letter, voice and agency hand-off."
    " The delivery log answers what was sent to a customer, when, and whether it arrived."
)


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """Build the app; connections open in its lifespan, never here."""
    service = bootstrap(settings or get_settings(), clock=clock, run_worker=run_worker)
    app = create_service_app(
        service.runtime,
        title="Dunlin notifications",
        description=DESCRIPTION,
        version="0.1.0",
        routers=service.routers,
    )
    # Provider callbacks carry the provider's signature instead of an API key.
    for router in service.public_routers:
        app.include_router(router)
    app.state.worker = service.worker
    return app
