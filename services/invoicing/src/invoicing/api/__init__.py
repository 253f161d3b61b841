"""The invoicing HTTP API."""

from fastapi import APIRouter

from invoicing.api import accounts, invoices, ledger
from invoicing.api.deps import problem_for


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return [accounts.router, invoices.router, ledger.router]


__all__ = ["problem_for", "routers"]
