"""The event corpus: valid AccountRegistered CloudEvents, produced once to a fresh topic."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from dunlin_events import AccountRegistered, KafkaRecord, PaymentTerms, encode_raw

SOURCE = "/dunlin/bench"
ACCOUNTS = 1_000
PARTITIONS = 6


def account_event(index: int) -> AccountRegistered:
    """A realistic, valid AccountRegistered for account number `index`."""
    return AccountRegistered(
        account_id=f"acc-{index:05d}",
        name=f"Customer {index} GmbH",
        currency="EUR",
        country="DE",
        payment_terms=PaymentTerms(kind="net", days=30),
        tags=["bench"],
    )


def records(count: int, *, accounts: int = ACCOUNTS) -> list[KafkaRecord]:
    """`count` records over `accounts` keys, each with its own ce_id."""
    now = datetime.now(UTC)
    templates = []
    for index in range(accounts):
        event = account_event(index)
        templates.append(
            encode_raw(
                id="template",
                type=AccountRegistered.ce_type(),
                source=SOURCE,
                time=now,
                subject=event.account_id,
                data=event.__pydantic_serializer__.to_json(event),
                traceparent=None,
            )
        )
    # Encoding once per account and swapping the id keeps set-up short; the bytes are what
    # encode_raw would produce for each event anyway.
    out = []
    for n in range(count):
        template = templates[n % accounts]
        event_id = str(uuid.uuid4()).encode()
        headers = [(k, event_id if k == "ce_id" else v) for k, v in template.headers]
        out.append(replace(template, headers=headers))
    return out


@dataclass(frozen=True)
class Produced:
    """What was written to the topic."""

    topic: str
    count: int
    seconds: float


async def produce(bootstrap: str, topic: str, batch: list[KafkaRecord]) -> Produced:
    """Write every record (acks=all) and wait until all are acknowledged."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    started = asyncio.get_running_loop().time()
    try:
        pending = [await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in batch]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return Produced(topic, len(batch), asyncio.get_running_loop().time() - started)
