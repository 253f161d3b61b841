"""Dead-letter topics: bad messages leave the main flow with the reason and their origin."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError

from dunlin_events.topics import dlq_topic
from dunlin_platform import metrics
from dunlin_platform.kafka import ProducerHolder

_MAX_ERROR_BYTES = 4096
VALUE_OMITTED = "dlq_value_omitted"
"""Header of a dead letter sent without the message's value and headers (their size in
bytes): the letter itself was too large for the dead-letter topic. `dunlin-dlq replay`
takes the message from its source topic instead."""


@dataclass(frozen=True)
class DeadLetter:
    """A message that cannot be processed, with why and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]  # Kafka allows a header without a value
    group: str
    error_type: str
    reason: str

    @classmethod
    def of(
        cls, message: ConsumerRecord[bytes, bytes], group: str, exc: BaseException, reason: str
    ) -> DeadLetter:
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=tuple(message.headers),
            group=group,
            error_type=type(exc).__name__,
            reason=reason,
        )

    def dlq_headers(self) -> list[tuple[str, bytes | None]]:
        """The original headers plus the error and the source coordinates."""
        added = {
            "dlq_error": self.reason.encode()[:_MAX_ERROR_BYTES],
            "dlq_error_type": self.error_type.encode(),
            "dlq_source_topic": self.topic.encode(),
            "dlq_source_partition": str(self.partition).encode(),
            "dlq_source_offset": str(self.offset).encode(),
            "dlq_consumer_group": self.group.encode(),
            "dlq_failed_at": datetime.now(UTC).isoformat().encode(),
        }
        kept = [(k, v) for k, v in self.headers if k not in added]
        return kept + list(added.items())

    def without_value(self) -> tuple[None, list[tuple[str, bytes | None]]]:
        """The letter's value and headers when the message itself is too large to copy: the
        source coordinates and the error only, and how large what was left out is."""
        original = len(self.value or b"") + sum(len(k) + len(v or b"") for k, v in self.headers)
        headers = [(k, v) for k, v in self.dlq_headers() if k.startswith("dlq_")]
        return None, [*headers, (VALUE_OMITTED, str(original).encode())]


class DeadLetterPublisher:
    """Publishes dead letters and waits for the broker's ack before offsets move on."""

    def __init__(self, producers: ProducerHolder) -> None:
        self._producers = producers

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send the letters and wait for every ack.

        A letter the broker refuses as too large (the message was close to the broker's
        limit, and the letter adds its headers) is sent again without the message, which
        stays on its source topic: a letter that could never be written would stop the
        consumer for good.
        """
        producer = await self._producers.get()
        pending = [
            await _send(
                producer, dlq_topic(letter.topic), letter.key, letter.value, letter.dlq_headers()
            )
            for letter in letters
        ]
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        for letter, outcome in zip(letters, outcomes, strict=True):
            if isinstance(outcome, MessageSizeTooLargeError):
                value, headers = letter.without_value()
                await (await _send(producer, dlq_topic(letter.topic), letter.key, value, headers))
            elif isinstance(outcome, BaseException):
                raise outcome
        for letter in letters:
            # Labels stay bounded: the error class, never anything taken from the message.
            labels = {"topic": letter.topic, "group": letter.group, "error": letter.error_type}
            metrics.dead_letters.add(1, labels)


async def _send(
    producer: AIOKafkaProducer,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
) -> asyncio.Future[Any]:
    """A send's future of its ack; a record the producer refuses at once as too large comes
    back as a failed future, as one the broker refuses does."""
    try:
        return cast(
            "asyncio.Future[Any]", await producer.send(topic, value, key=key, headers=headers)
        )
    except MessageSizeTooLargeError as exc:
        refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        refused.set_exception(exc)
        return refused
