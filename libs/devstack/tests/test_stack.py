"""`dunlin-stack up` end to end, with a stand-in service instead of a real one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from dunlin_devstack import databases
from dunlin_devstack.launcher import ServiceProcess
from dunlin_devstack.paths import free_port
from dunlin_devstack.services import ServiceSpec
from dunlin_devstack.stack import Stack, UpOptions

FAKE_MAIN = textwrap.dedent(
    """
    import os, signal, sys, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    if sys.argv[1] == "migrate":
        print("fake migrated")
        sys.exit(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path in ("/readyz", "/healthz") else 404)
            self.end_headers()

    server = HTTPServer((os.environ["HTTP_HOST"], int(os.environ["HTTP_PORT"])), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if os.environ.get("FAKE_DIE_AFTER"):
        threading.Timer(float(os.environ["FAKE_DIE_AFTER"]), lambda: os._exit(3)).start()
    if os.environ.get("FAKE_PID_FILE"):
        open(os.environ["FAKE_PID_FILE"], "w").write(str(os.getpid()))
    print("fake serving", flush=True)
    server.serve_forever()
    """
)


@pytest.fixture
def fake_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServiceSpec:
    package = tmp_path / "src" / "dunlin_fake_svc"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_MAIN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "src"))
    return ServiceSpec("fake", "dunlin_fake_svc", free_port())


@pytest.fixture
def stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    kafka_bootstrap_servers: str,
    fake_service: ServiceSpec,
) -> Stack:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap_servers)
    return Stack(UpOptions(ready_timeout=20), home=tmp_path / "home", specs=[fake_service])


async def test_up_migrates_serves_stops_and_reuses_the_key_next_time(
    stack: Stack, fake_service: ServiceSpec
) -> None:
    try:
        await stack.start()
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{fake_service.base_url}/readyz")).status_code == 200
        assert (stack.api_key or "").startswith("dk_")
        stop = asyncio.Event()
        stop.set()
        assert await stack.supervise(stop) == 0
    finally:
        await stack.shutdown()
    log = (stack.home / "logs" / "fake.log").read_text()
    assert "fake migrated" in log
    assert "fake serving" in log
    assert all(p.returncode is not None for p in stack.running)

    # The next run (whose key step is the slow part, hence one test) reuses the key.
    again = Stack(stack.options, home=stack.home, specs=[])
    assert await _start_and_stop(again) == stack.api_key


async def test_a_plain_postgres_database_url_works_as_the_readme_says(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    plain = databases.libpq_url(database_url).replace("postgresql://", "postgres://", 1)
    monkeypatch.setenv("DATABASE_URL", plain)
    plain_stack = Stack(stack.options, home=stack.home, specs=[])

    assert (await _start_and_stop(plain_stack) or "").startswith("dk_")
    assert plain_stack.database_url == database_url


async def test_a_service_dying_makes_up_exit_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_service: ServiceSpec
) -> None:
    monkeypatch.setenv("FAKE_DIE_AFTER", "1.0")
    stack = Stack(UpOptions(), home=tmp_path)
    env = {**os.environ, "HTTP_HOST": "127.0.0.1"}
    stack.running.append(ServiceProcess(fake_service, env, tmp_path / "logs"))
    try:
        await stack.running[0].serve()
        await stack.running[0].wait_ready(10)
        assert await asyncio.wait_for(stack.supervise(asyncio.Event()), 10) == 1
    finally:
        await stack.shutdown()


# `dunlin-stack up` with the fake service as the only one installed.
UP_WITH_FAKE = textwrap.dedent(
    """
    import sys
    from dunlin_devstack import cli, services
    from dunlin_devstack.services import ServiceSpec

    spec = ServiceSpec("fake", "dunlin_fake_svc", int(sys.argv[1]))
    services.available_services = lambda *_: [spec]
    sys.exit(cli.main(["up"]))
    """
)


@pytest.mark.parametrize(
    "ending", ["the terminal closed", "the launcher killed"], ids=["sighup", "sigkill"]
)
def test_the_services_stop_when_the_launcher_goes_away(
    tmp_path: Path,
    database_url: str,
    kafka_bootstrap_servers: str,
    fake_service: ServiceSpec,
    ending: str,
) -> None:
    pid_file = tmp_path / "fake.pid"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DUNLIN_HOME": str(tmp_path / "home"),
        "FAKE_PID_FILE": str(pid_file),
    }
    launcher = subprocess.Popen(
        [sys.executable, "-c", UP_WITH_FAKE, str(fake_service.port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            if b"Dunlin is running" in line:
                break
        if ending == "the terminal closed":  # SIGHUP, and nowhere left to print to
            launcher.stdout.close()
            launcher.send_signal(signal.SIGHUP)
        else:  # SIGKILL or the OOM killer: no chance to stop anything itself
            launcher.kill()
        launcher.wait(30)
        service = int(pid_file.read_text())
        assert not _alive_within(service, 20), "the service outlived the launcher"
    finally:
        launcher.kill()
        if pid_file.exists() and _alive_within(int(pid_file.read_text()), 0):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


# Starts a broker on a free port, prints its pid, then waits to be killed.
BROKER_PARENT = textwrap.dedent(
    """
    import asyncio, time
    from dunlin_devstack.broker import EmbeddedBroker

    broker = EmbeddedBroker()
    asyncio.run(broker.start())
    print(broker._process.pid, flush=True)
    time.sleep(600)
    """
)


def test_the_broker_stops_when_whoever_started_it_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", BROKER_PARENT], stdout=subprocess.PIPE)
    broker_pid = None
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)
        assert not _alive_within(broker_pid, 10), "the broker outlived the process that started it"
    finally:
        parent.kill()
        if broker_pid is not None and _alive_within(broker_pid, 0):
            os.kill(broker_pid, signal.SIGKILL)


def _alive_within(pid: int, seconds: float) -> bool:
    """Whether `pid` is still alive after waiting up to `seconds` for it to exit."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)


async def _start_and_stop(stack: Stack) -> str | None:
    try:
        await stack.start()
    finally:
        await stack.shutdown()
    return stack.api_key
