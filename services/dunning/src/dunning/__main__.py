"""`python -m dunning serve|migrate`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from dunlin_platform.config import ServiceSettings
from dunlin_platform.service_cli import run_service_cli
from dunning.app import create_app
from dunning.config import DunningSettings

# The service keeps its migrations beside its sources (services/dunning/alembic).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, DunningSettings)
    return create_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dunning service's command line."""
    return run_service_cli(
        argv, settings_factory=DunningSettings, app_factory=_app, alembic_ini=ALEMBIC_INI
    )


if __name__ == "__main__":
    sys.exit(main())
