"""Run one service as subprocesses (`migrate`, then `serve`), logging to `.dunlin/logs`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from dunlin_devstack.lifeline import stop_with_parent
from dunlin_devstack.services import ServiceSpec


class ServiceError(RuntimeError):
    """A service failed to migrate, start or become ready."""


class ServiceProcess:
    """One service's subprocesses; output goes to its log file and optionally the console."""

    def __init__(
        self, spec: ServiceSpec, env: Mapping[str, str], log_dir: Path, *, echo: bool = False
    ) -> None:
        self.spec = spec
        self.env = {**env, "HTTP_PORT": str(spec.port)}
        self.log_file = log_dir / f"{spec.name}.log"
        self.echo = echo
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._log: IO[bytes] | None = None

    async def migrate(self, deadline_s: float = 120.0) -> None:
        """Run `python -m <module> migrate` to completion."""
        await self._spawn("migrate")
        try:
            code = await asyncio.wait_for(self.wait(), deadline_s)
        except TimeoutError:
            await self.stop()
            raise ServiceError(f"{self.spec.name}: migrate took over {deadline_s:.0f}s") from None
        if code != 0:
            raise ServiceError(self.failure(f"migrate exited with code {code}"))

    async def serve(self) -> None:
        """Start `python -m <module> serve` in the background."""
        await self._spawn("serve")

    async def wait_ready(self, deadline_s: float = 90.0) -> float:
        """Poll `/readyz` until it answers 200; return the seconds it took."""
        started = time.monotonic()
        url = f"{self.spec.base_url}/readyz"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() - started < deadline_s:
                if self.returncode is not None:
                    raise ServiceError(self.failure(f"exited with code {self.returncode}"))
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.25)
        raise ServiceError(self.failure(f"{url} did not answer 200 within {deadline_s:.0f}s"))

    @property
    def returncode(self) -> int | None:
        """The exit code once the current subprocess has exited."""
        return None if self.process is None else self.process.returncode

    async def wait(self) -> int:
        """Wait for the current subprocess and its output to finish; return its exit code."""
        assert self.process is not None
        code = await self.process.wait()
        if self._pump is not None:
            await self._pump
        return code

    async def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the subprocess, SIGKILL it after `grace_s` seconds."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                self.process.kill()
            await self.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def failure(self, what: str, lines: int = 25) -> str:
        """Describe a failure with the last lines of the service's log."""
        return f"{self.spec.name}: {what}; log {self.log_file}:\n{self.log_tail(lines)}"

    def log_tail(self, lines: int = 25) -> str:
        """Return the last `lines` lines of the log."""
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "  (no log)"
        return "\n".join(f"  | {line}" for line in text)

    async def _spawn(self, command: str) -> None:
        if self._log is None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_file.open("ab")
        self._log.write(f"===== {self.spec.module} {command} =====\n".encode())
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.spec.module,
            command,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: the launcher decides when services stop, not the terminal's Ctrl-C;
            # and if the launcher is killed outright, they stop too.
            start_new_session=True,
            preexec_fn=stop_with_parent(),
        )
        self._pump = asyncio.create_task(self._copy_output(self.process))

    async def _copy_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        prefix = f"{self.spec.name:<13}| ".encode()
        async for line in process.stdout:
            if self._log is not None:
                self._log.write(line)
                self._log.flush()
            if self.echo:
                try:
                    sys.stdout.buffer.write(prefix + line)
                    sys.stdout.buffer.flush()
                except OSError:  # the terminal is gone: keep the log, keep draining the pipe
                    self.echo = False
