"""Dead-letter topics: bad messages leave the main flow with the reason and their origin."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from dunlin_events.topics import dlq_topic
from dunlin_platform import metrics
from dunlin_platform.kafka import ProducerHolder

_MAX_ERROR_BYTES = 4096


@dataclass(frozen=True)
class DeadLetter:
    """A message that cannot be processed, with why and where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
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

    def dlq_headers(self) -> list[tuple[str, bytes]]:
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


class DeadLetterPublisher:
    """Publishes dead letters and waits for the broker's ack before offsets move on."""

    def __init__(self, producers: ProducerHolder) -> None:
        self._producers = producers

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        producer = await self._producers.get()
        pending = [
            await producer.send(
                dlq_topic(letter.topic),
                letter.value,
                key=letter.key,
                headers=letter.dlq_headers(),
            )
            for letter in letters
        ]
        await asyncio.gather(*pending)
        for letter in letters:
            # Labels stay bounded: the error class, never anything taken from the message.
            labels = {"topic": letter.topic, "group": letter.group, "error": letter.error_type}
            metrics.dead_letters.add(1, labels)
