"""The invoicing HTTP API."""

from fastapi import APIRouter

from invoicing.api import accounts, admin, invoices, ledger, reports
from invoicing.api.deps import problem_for


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return [accounts.router, invoices.router, ledger.router, reports.router, admin.router]


__all__ = ["problem_for", "routers"]
