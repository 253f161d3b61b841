"""The risk HTTP API."""

from fastapi import APIRouter

from risk.api import accounts, admin, portfolio, signals


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return [accounts.router, portfolio.router, signals.router, admin.router]
