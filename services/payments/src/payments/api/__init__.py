"""The payments HTTP API."""

from fastapi import APIRouter

from payments.api import accounts, admin, payments, pending, plans
from payments.api.deps import problem_for


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return [pending.router, payments.router, plans.router, accounts.router, admin.router]


__all__ = ["problem_for", "routers"]
