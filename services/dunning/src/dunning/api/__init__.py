"""The dunning HTTP API."""

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every router of the service."""
    return []
