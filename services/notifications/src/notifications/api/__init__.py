"""The notifications HTTP API."""

from fastapi import APIRouter

from notifications.api import callbacks, deliveries, templates


def routers() -> list[APIRouter]:
    """Routers behind API keys."""
    return [deliveries.router, templates.router]


def callback_routers() -> list[APIRouter]:
    """Routers providers call, authenticated by their signatures."""
    return [callbacks.router]
