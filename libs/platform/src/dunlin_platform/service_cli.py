"""`python -m <service> serve|migrate`: the one entry point every service shares."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import FastAPI

from dunlin_platform.config import ServiceSettings
from dunlin_platform.migrations import upgrade
from dunlin_platform.telemetry import setup_logging


def run_service_cli(
    argv: Sequence[str] | None,
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    alembic_ini: Path,
) -> int:
    """Parse the command line and serve the app or migrate its schema."""
    parser = argparse.ArgumentParser(description="Run a Dunlin service.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve HTTP, consume events and relay the outbox (default)")
    migrate = sub.add_parser("migrate", help="apply the service's database migrations")
    migrate.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    settings = settings_factory()
    if args.command == "migrate":
        setup_logging(settings)
        upgrade(alembic_ini=alembic_ini, database_url=settings.database_url, revision=args.revision)
        logging.getLogger(__name__).info("migrated %s to %s", settings.db_schema, args.revision)
        return 0
    import uvicorn

    # uvicorn turns SIGTERM into a graceful lifespan shutdown: batches finish, then commit.
    uvicorn.run(
        app_factory(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=25,
    )
    return 0
