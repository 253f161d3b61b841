"""Idle memory: each service migrated, served against the run's database and broker, then RSS."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bench.infra import Infra
from bench.results import Result
from dunlin_devstack.broker import ensure_topics, platform_topics
from dunlin_devstack.launcher import ServiceError, ServiceProcess
from dunlin_devstack.paths import dunlin_home, free_port
from dunlin_devstack.services import HTTP_HOST, SERVICES, ServiceSpec, is_runnable

TARGET_MB = 150.0
IDLE_S = 5.0
READY_DEADLINE_S = 60.0


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def service_env(infra: Infra) -> dict[str, str]:
    """The environment `make run` gives a service, pointed at this run's servers."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=infra.database_url,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap,
        HTTP_HOST=HTTP_HOST,
        ENVIRONMENT="development",
        LOG_LEVEL="INFO",
        LOG_FORMAT="text",
    )
    return env


async def measure(spec: ServiceSpec, infra: Infra, log_dir: Path) -> Result:
    """Migrate, serve, wait for /readyz, idle, then read the serving process's RSS."""
    name = f"memory.{spec.name}_idle_rss"
    if not is_runnable(spec):
        return Result(
            name, None, "MB", TARGET_MB, "max", f"not measured: {spec.module} not installed"
        )
    # A free port, not the registry's: a running `make run` must not collide with the bench.
    process = ServiceProcess(
        ServiceSpec(spec.name, spec.module, free_port()), service_env(infra), log_dir
    )
    try:
        await process.migrate()
        await process.serve()
        ready_s = await process.wait_ready(READY_DEADLINE_S)
        await asyncio.sleep(IDLE_S)
        assert process.process is not None
        value = rss_mb(process.process.pid)
    except (ServiceError, OSError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        return Result(name, None, "MB", TARGET_MB, "max", f"not measured: {first}")
    finally:
        await process.stop()
    note = f"VmRSS after ready ({ready_s:.1f}s) + {IDLE_S:.0f}s idle; log {process.log_file}"
    return Result(name, value, "MB", TARGET_MB, "max", note)


async def run(infra: Infra) -> list[Result]:
    """One row per service in the devstack registry (a new service is measured automatically)."""
    log_dir = dunlin_home() / "logs" / "bench"
    if any(is_runnable(spec) for spec in SERVICES):
        await ensure_topics(infra.bootstrap, platform_topics(), partitions=6)
    return [await measure(spec, infra, log_dir) for spec in SERVICES]
