"""The dunning HTTP API."""

from fastapi import APIRouter

from dunning.api import admin, cases, policies, tasks


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return [cases.router, policies.router, tasks.router, admin.router]
