"""Kafka clients built one way: acks=all, no idempotent producer (the embedded broker lacks it)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from dunlin_platform.config import ServiceSettings
from dunlin_platform.errors import Backoff, is_transient

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1024 * 1024
"""The producer's batch size: Kafka's default `message.max.bytes` (1,048,588) is about as
large, so a broker of default configuration takes any batch the relay builds."""
MAX_RECORD_BYTES = 1_000_000
"""The largest record the relay publishes (key, value and headers), with room left in a batch
for the batch's and the record's framing."""
MAX_PAYLOAD_BYTES = MAX_RECORD_BYTES - 16 * 1024
"""The largest event body the outbox takes: a record's CloudEvents headers (ids, source,
type, time, traceparent) are a few hundred bytes, and this leaves them 16 KiB."""


def new_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer tuned for batched, ordered publishing."""
    # One produce request per partition per relay batch keeps a batch all-or-nothing per key.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=MAX_BATCH_BYTES,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )


class ProducerHolder:
    """Starts the shared producer in the background and hands it out once connected."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="kafka-producer-connect")

    async def _connect(self) -> None:
        backoff = Backoff(maximum=self._settings.consumer_max_backoff_s)
        while True:
            producer = new_producer(self._settings)
            try:
                await producer.start()
            except Exception as exc:
                await producer.stop()
                if not is_transient(exc):
                    raise
                delay = backoff.next_delay()
                log.warning("broker not reachable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                continue
            self._producer = producer
            self._ready.set()
            return

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def get(self) -> AIOKafkaProducer:
        """The started producer, waiting until the broker has been reached."""
        await self._ready.wait()
        assert self._producer is not None
        return self._producer

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._producer is not None:
            await self._producer.stop()
