"""The payments FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dunlin_platform.app import create_service_app
from dunlin_platform.clock import Clock
from dunlin_platform.http.problems import problem_response
from payments.api import problem_for
from payments.bootstrap import bootstrap
from payments.config import PaymentsSettings, get_settings
from payments.domain.errors import DomainError

DESCRIPTION = (
    "Payments of Dunlin: recording and allocating payments, reversals and payment plans."
    " Money is a decimal string with an ISO 4217 currency; every POST accepts an"
    " Idempotency-Key; every list is cursor-paginated."
)


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(request, problem_for(exc))


def create_app(settings: PaymentsSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; connections open in its lifespan, never here."""
    service = bootstrap(settings or get_settings(), clock=clock)
    app = create_service_app(
        service.runtime,
        title="Dunlin payments",
        description=DESCRIPTION,
        version="0.1.0",
        routers=service.routers,
    )
    app.add_exception_handler(DomainError, _on_domain_error)
    return app
