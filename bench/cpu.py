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


def _on_cpu_ns(pid: int, thread: int | None = None) -> int | None:
    """Nanoseconds a process's main thread (or the given thread) has run, from schedstat."""
    path = f"/proc/{pid}/schedstat" if thread is None else f"/proc/{pid}/task/{thread}/schedstat"
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _children_ns() -> int | None:
    """On-CPU nanoseconds of this process's children: the embedded broker, when it runs one."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += (task / "children").read_text().split()
        except OSError:
            return None
    if not pids:
        return None
    # Every thread's: the broker runs its work on a pool of threads, not the main one.
    threads = [(int(pid), thread) for pid in pids for thread in _threads(int(pid))]
    return sum(ns for pid, t in threads if (ns := _on_cpu_ns(pid, t)) is not None)


def _threads(pid: int) -> list[int]:
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


@dataclass(frozen=True)
class CpuSample:
    """Process CPU seconds and each database backend's on-CPU nanoseconds at one moment."""

    process_s: float
    backends_ns: dict[int, int]
    children_ns: int | None


@dataclass(frozen=True)
class CpuUse:
    """CPU used between two samples, in microseconds per event."""

    python_us: float
    postgres_us: float | None  # None when the backends are not local processes
    broker_us: float | None  # None when the broker is not this process's child


class CpuMeter:
    """Samples CPU use of this process and of the run database's backends (when local)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def sample(self) -> CpuSample:
        async with self._engine.connect() as conn:
            pids = (await conn.execute(text(_BACKENDS))).scalars().all()
        backends = {pid: ns for pid in pids if (ns := _on_cpu_ns(pid)) is not None}
        return CpuSample(time.process_time(), backends, _children_ns())

    @staticmethod
    def between(start: CpuSample, end: CpuSample, events: int) -> CpuUse:
        """Per-event use; a backend that started in between counts from zero."""
        count = max(events, 1)
        python_us = 1e6 * (end.process_s - start.process_s) / count
        broker_us = None
        if start.children_ns is not None and end.children_ns is not None:
            broker_us = (end.children_ns - start.children_ns) / 1e3 / count
        if not end.backends_ns:
            return CpuUse(python_us, None, broker_us)
        used_ns = sum(ns - start.backends_ns.get(pid, 0) for pid, ns in end.backends_ns.items())
        return CpuUse(python_us, used_ns / 1e3 / count, broker_us)
