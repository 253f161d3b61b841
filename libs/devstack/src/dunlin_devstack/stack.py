"""`dunlin-stack up`: database, broker, topics, dev API key and every service, then supervise."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from dunlin_devstack import apikey, broker, databases, services
from dunlin_devstack.fakeproviders import FakeProviders
from dunlin_devstack.launcher import ServiceError, ServiceProcess
from dunlin_devstack.mailsink import MailSink
from dunlin_devstack.paths import dunlin_home, port_is_free
from dunlin_devstack.postgres import EmbeddedPostgres

DATABASE = "dunlin"


class StartupError(RuntimeError):
    """The stack could not start; the message says why and where to look."""


@dataclass
class UpOptions:
    """Flags of `dunlin-stack up`."""

    new_key: bool = False
    follow: bool = False
    pg_port: int = 55432
    broker_port: int = broker.DEFAULT_PORT
    ready_timeout: float = 90.0


@dataclass
class Stack:
    """What `up` started, so that shutdown stops exactly that, in reverse order."""

    options: UpOptions
    home: Path = field(default_factory=dunlin_home)
    postgres: EmbeddedPostgres | None = None
    broker: broker.EmbeddedBroker | None = None
    running: list[ServiceProcess] = field(default_factory=list)
    database_url: str = ""
    bootstrap: str = ""
    api_key: str | None = None
    specs: list[services.ServiceSpec] | None = None  # None: every installed service
    mailsink: MailSink | None = None
    fakes: FakeProviders | None = None

    async def start(self) -> None:
        """Bring everything up; raise StartupError with a clear message on failure."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.database_url = await self._database()
        self.bootstrap = await self._broker()
        await self._topics()
        await self._providers()
        env = self._service_env()
        specs = self.specs if self.specs is not None else services.available_services()
        busy = [s for s in specs if not port_is_free(s.port)]
        if busy:
            ports = ", ".join(f"{s.name}:{s.port}" for s in busy)
            raise StartupError(f"ports in use ({ports}); is another `dunlin-stack up` running?")
        # The auth schema is independent of the services' schemas: migrate them side by side.
        await asyncio.gather(self._api_key(env), self._migrate(specs, env))
        for proc in self.running:
            await proc.serve()
        waits = [p.wait_ready(self.options.ready_timeout) for p in self.running]
        for proc, took in zip(self.running, await asyncio.gather(*waits), strict=True):
            say(f"{proc.spec.name} ready in {took:.1f}s")

    async def _migrate(self, specs: list[services.ServiceSpec], env: dict[str, str]) -> None:
        logs = self.home / "logs"
        for spec in specs:
            (logs / f"{spec.name}.log").unlink(missing_ok=True)
            proc = ServiceProcess(spec, env, logs, echo=self.options.follow)
            self.running.append(proc)
            say(f"migrating {spec.name} ...")
            await proc.migrate()

    async def _database(self) -> str:
        if url := os.environ.get("DATABASE_URL"):
            say("using DATABASE_URL from the environment")
            # Handed on as the services read it: the auth CLI and key check take it as it is.
            return databases.asyncpg_url(url)
        self.postgres = EmbeddedPostgres(self.home / "pgdata", port=self.options.pg_port)
        await asyncio.to_thread(self.postgres.start)
        state = "reused running" if self.postgres.reused else "started"
        say(f"{state} embedded PostgreSQL on port {self.postgres.port} ({self.postgres.pgdata})")
        await self.postgres.ensure_database(DATABASE)
        return self.postgres.url(DATABASE)

    async def _broker(self) -> str:
        if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            say("using KAFKA_BOOTSTRAP_SERVERS from the environment")
            return bootstrap
        port = self.options.broker_port
        if not port_is_free(port):
            raise StartupError(
                f"port {port} is in use: stop what holds it, pass --broker-port, "
                "or point KAFKA_BOOTSTRAP_SERVERS at that broker"
            )
        log = self.home / "logs" / "broker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.broker = broker.EmbeddedBroker(port, log_file=log)
        await self.broker.start()
        say(f"started embedded broker (Tansu, in-memory) on {self.broker.bootstrap}")
        return self.broker.bootstrap

    async def _topics(self) -> None:
        try:
            topics = broker.platform_topics()
        except (ImportError, AttributeError):
            say("warning: dunlin_events.topics.ALL_TOPICS not found; no topics created")
            return
        await broker.ensure_topics(self.bootstrap, topics, partitions=6)
        say(f"{len(topics)} topics ready (6 partitions each)")

    async def _providers(self) -> None:
        """The SMTP sink (.dunlin/mail/*.eml) and fake SMS/voice/print/agency providers."""
        self.mailsink = MailSink(folder=self.home / "mail", keep_in_memory=False)
        await self.mailsink.start()
        self.fakes = FakeProviders(folder=self.home / "providers")
        await self.fakes.start()
        say(f"SMTP sink on port {self.mailsink.port} (e-mails in {self.home / 'mail'})")
        say(f"fake SMS/voice/print/agency providers on {self.fakes.base_url}")

    async def _api_key(self, env: dict[str, str]) -> None:
        # In a thread: finding the module imports its parent packages, which takes seconds.
        if not await asyncio.to_thread(services.is_module_available, apikey.AUTH_CLI):
            say(f"warning: {apikey.AUTH_CLI} not installed; no API key made")
            return
        try:
            key_file = self.home / "dev-api-key"
            self.api_key = await apikey.dev_api_key(env, key_file, rotate=self.options.new_key)
        except apikey.ApiKeyError as err:
            raise StartupError(str(err)) from err

    def _service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DATABASE_URL=self.database_url, KAFKA_BOOTSTRAP_SERVERS=self.bootstrap)
        env.setdefault("HTTP_HOST", services.HTTP_HOST)
        env.setdefault("ENVIRONMENT", "development")
        env.setdefault("LOG_LEVEL", "INFO")
        # Logs are read by people here, not by a log shipper.
        env.setdefault("LOG_FORMAT", "text")
        if self.mailsink is not None and self.fakes is not None:
            env.setdefault("SMTP_HOST", "127.0.0.1")
            env.setdefault("SMTP_PORT", str(self.mailsink.port))
            env.setdefault("SMS_API_URL", self.fakes.sms_api_url)
            env.setdefault("VOICE_API_URL", self.fakes.sms_api_url)
            env.setdefault("AGENCY_API_URL", self.fakes.agency_api_url)
            env.setdefault("LETTERS_DIR", str(self.home / "letters"))
        return env

    async def supervise(self, stop: asyncio.Event) -> int:
        """Wait for a stop signal (exit 0) or a service dying on its own (exit 1)."""
        stopper = asyncio.create_task(stop.wait())
        exits = {asyncio.create_task(p.wait()): p for p in self.running}
        done, _ = await asyncio.wait({stopper, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopper, *exits):
            task.cancel()
        dead = [exits[t] for t in done if t in exits]
        if not dead:
            return 0
        for proc in dead:
            shout(proc.failure(f"EXITED UNEXPECTEDLY with code {proc.returncode}"))
        return 1

    async def shutdown(self) -> None:
        """Stop services, then the broker, then PostgreSQL; report but survive each failure."""
        await asyncio.gather(*(p.stop() for p in self.running), return_exceptions=True)
        for provider in (self.fakes, self.mailsink):
            if provider is not None:
                with contextlib.suppress(Exception):
                    await provider.stop()
        if self.broker is not None:
            await asyncio.to_thread(self.broker.stop)
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.postgres.stop)


async def up(options: UpOptions) -> int:
    """Run the whole platform until SIGINT/SIGTERM; return the exit code."""
    from dunlin_devstack.summary import render

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP: a closed terminal must not leave the services (in their own sessions) behind.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    stack = Stack(options)
    code = 0
    try:
        starting = asyncio.create_task(stack.start())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not starting.done():
            starting.cancel()
            say("interrupted during start-up")
        else:
            starting.result()
            _print(render(stack))
            code = await stack.supervise(stop)
    except (StartupError, ServiceError) as err:
        shout(f"start-up failed: {err}")
        code = 1
    except Exception as err:  # anything else still gets a clean shutdown and a clear line
        shout(f"start-up failed: {type(err).__name__}: {err}")
        code = 1
    finally:
        say("stopping ...")
        await stack.shutdown()
    say("stopped" if code == 0 else f"stopped (exit {code})")
    return code


def say(message: str) -> None:
    """Print a launcher status line."""
    _print(f"dunlin-stack: {message}")


def shout(message: str) -> None:
    """Print a failure so that nobody misses it."""
    bar = "!" * 72
    _print(f"\n{bar}\ndunlin-stack: {message}\n{bar}\n", file=sys.stderr)


def _print(text: str, file: TextIO | None = None) -> None:
    # A closed terminal (EIO) or pipe (EPIPE) must not cut the shutdown short.
    with contextlib.suppress(OSError):
        print(text, file=file or sys.stdout, flush=True)
