"""Kafka subscriptions: every topic dunning reads feeds the same batch handler."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event, MoneyError
from dunlin_platform.clock import Clock
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ConsumerSpec
from dunning.config import DunningSettings
from dunning.domain.facts import CONSUMED_EVENTS
from dunning.handlers import apply_events


class CaseEvents:
    """Applies a batch of business events to the accounts' cases in one transaction."""

    def __init__(self, *, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        relevant = [e for e in envelopes if isinstance(e.data, CONSUMED_EVENTS)]
        if not relevant:
            return
        try:
            await apply_events(
                session=session, outbox=self._outbox, envelopes=relevant, now=self._clock.now()
            )
        except (MoneyError, ValueError) as exc:
            # A business invariant the contract cannot express (e.g. an amount in the wrong
            # currency scale): dead-letter it; the batch is retried without it.
            raise RejectEvent(f"{type(exc).__name__}: {exc}") from exc


def consumer_specs(
    *, settings: DunningSettings, outbox: Outbox, clock: Clock
) -> list[ConsumerSpec]:
    """One consumer group over the business topics dunning follows."""
    topics = [
        settings.invoicing_events_topic,
        settings.payments_events_topic,
        settings.risk_events_topic,
        settings.notifications_events_topic,
    ]
    return [ConsumerSpec("cases", topics, CaseEvents(outbox=outbox, clock=clock))]
