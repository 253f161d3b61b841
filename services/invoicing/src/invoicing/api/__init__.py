"""The invoicing HTTP API."""

from fastapi import APIRouter

from invoicing.api import accounts, admin, invoices, ledger, reports
from invoicing.api.deps import problem_for


def routers() -> list[APIRouter]:
    """Every router of the service, the busiest first: a request is matched in this order."""
    return [invoices.router, accounts.router, ledger.router, reports.router, admin.router]


__all__ = ["problem_for", "routers"]
