"""`python -m invoicing serve|migrate`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from dunlin_platform.config import ServiceSettings
from dunlin_platform.service_cli import run_service_cli
from invoicing.app import create_app
from invoicing.config import InvoicingSettings

# The service keeps its migrations beside its sources (services/invoicing/alembic).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, InvoicingSettings)
    return create_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the invoicing service's command line."""
    return run_service_cli(
        argv, settings_factory=InvoicingSettings, app_factory=_app, alembic_ini=ALEMBIC_INI
    )


def _profiled_main(path: str) -> int:
    """`main()` under cProfile, the stats written to `path` on a graceful stop (benchmarks)."""
    import cProfile
    import signal

    profiler = cProfile.Profile()
    path = f"{path}.{os.getpid()}"
    reraise = signal.raise_signal

    def dump_then_raise(signum: int) -> None:  # uvicorn re-raises SIGTERM after its shutdown
        profiler.disable()
        profiler.dump_stats(path)
        reraise(signum)

    signal.raise_signal = dump_then_raise
    try:
        return profiler.runcall(main)
    finally:
        profiler.dump_stats(path)


if __name__ == "__main__":
    # INVOICING_CPROFILE=<file> profiles the whole process (a diagnostic, slows it down).
    profile_path = os.environ.get("INVOICING_CPROFILE")
    sys.exit(_profiled_main(profile_path) if profile_path else main())
