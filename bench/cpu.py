"""CPU time per event: this process's, and that of the run database's PostgreSQL backends.

Wall-clock rates on a shared 2-core machine swing with whatever else runs; the CPU a
measurement burns does not, so it is reported beside every rate of the consumer benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_BACKENDS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _on_cpu_ns(pid: int) -> int | None:
    """Nanoseconds a process has run (first field of /proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class CpuSample:
    """Process CPU seconds and each database backend's on-CPU nanoseconds at one moment."""

    process_s: float
    backends_ns: dict[int, int]


@dataclass(frozen=True)
class CpuUse:
    """CPU used between two samples, in microseconds per event."""

    python_us: float
    postgres_us: float | None  # None when the backends are not local processes

    @property
    def total_us(self) -> float | None:
        return None if self.postgres_us is None else self.python_us + self.postgres_us


class CpuMeter:
    """Samples CPU use of this process and of the run database's backends (when local)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def sample(self) -> CpuSample:
        async with self._engine.connect() as conn:
            pids = (await conn.execute(text(_BACKENDS))).scalars().all()
        backends = {pid: ns for pid in pids if (ns := _on_cpu_ns(pid)) is not None}
        return CpuSample(time.process_time(), backends)

    @staticmethod
    def between(start: CpuSample, end: CpuSample, events: int) -> CpuUse:
        """Per-event use; a backend that started in between counts from zero."""
        python_us = 1e6 * (end.process_s - start.process_s) / max(events, 1)
        if not end.backends_ns:
            return CpuUse(python_us, None)
        used_ns = sum(ns - start.backends_ns.get(pid, 0) for pid, ns in end.backends_ns.items())
        return CpuUse(python_us, used_ns / 1e3 / max(events, 1))
