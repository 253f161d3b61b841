"""`python -m risk serve|migrate|model ...|rescore`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from dunlin_platform.config import ServiceSettings
from dunlin_platform.service_cli import run_service_cli
from risk import cli
from risk.app import create_app
from risk.config import RiskSettings

# The service keeps its migrations beside its sources (services/risk/alembic).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, RiskSettings)
    return create_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the risk service's command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in cli.COMMANDS:
        return cli.main(args)
    return run_service_cli(
        argv, settings_factory=RiskSettings, app_factory=_app, alembic_ini=ALEMBIC_INI
    )


if __name__ == "__main__":
    sys.exit(main())
