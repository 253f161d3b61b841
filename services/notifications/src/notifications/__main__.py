"""`python -m notifications serve|migrate`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from dunlin_platform.config import ServiceSettings
from dunlin_platform.service_cli import run_service_cli
from notifications.app import create_app
from notifications.config import NotificationsSettings

# The service keeps its migrations beside its sources (services/notifications/alembic).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, NotificationsSettings)
    return create_app(settings)


def _trace_memory(directory: str) -> None:
    """Debug only (NOTIFICATIONS_TRACEMALLOC_DIR): a tracemalloc snapshot every 30 s."""
    import threading
    import time
    import tracemalloc

    tracemalloc.start(8)

    def dump() -> None:
        for n in range(1_000_000):
            time.sleep(30)
            tracemalloc.take_snapshot().dump(f"{directory}/snap-{os.getpid()}-{n:04d}.bin")

    threading.Thread(target=dump, daemon=True, name="tracemalloc-dump").start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notifications service's command line."""
    if directory := os.environ.get("NOTIFICATIONS_TRACEMALLOC_DIR"):
        _trace_memory(directory)
    return run_service_cli(
        argv, settings_factory=NotificationsSettings, app_factory=_app, alembic_ini=ALEMBIC_INI
    )


if __name__ == "__main__":
    sys.exit(main())
