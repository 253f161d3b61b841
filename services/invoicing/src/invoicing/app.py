"""The invoicing FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dunlin_platform.app import create_service_app
from dunlin_platform.clock import Clock
from dunlin_platform.http.problems import problem_response
from invoicing.api import problem_for
from invoicing.bootstrap import Service, bootstrap
from invoicing.config import InvoicingSettings, get_settings
from invoicing.domain import DomainError

DESCRIPTION = (
    "Customer accounts and invoices of Dunlin. Money is a decimal string with an ISO 4217"
    " currency; every POST accepts an Idempotency-Key; every list is cursor-paginated."
)


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(request, problem_for(exc))


def create_app(settings: InvoicingSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; connections open in its lifespan, never here."""
    service = bootstrap(settings or get_settings(), clock=clock)
    app = create_service_app(
        service.runtime,
        title="Dunlin invoicing",
        description=DESCRIPTION,
        version="0.1.0",
        routers=service.routers,
    )
    app.add_exception_handler(DomainError, _on_domain_error)
    app.state.overdue_sweeper = service.sweeper
    app.state.invoice_issuer = service.issuer
    _run_in_lifespan(app, service)
    return app


def _run_in_lifespan(app: FastAPI, service: Service) -> None:
    """Run the sweep loop while the runtime is up: started after it, stopped before it.

    Queued invoice writes are finished before the runtime (and its engine) closes.
    """
    platform_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with platform_lifespan(app):
            service.sweeper.start()
            try:
                yield
            finally:
                await service.sweeper.stop()
                await service.issuer.stop()

    app.router.lifespan_context = lifespan
