"""One consumer over the business topics and risk.signals: each batch in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event, ExternalSignalReported, MoneyError
from dunlin_platform.clock import Clock
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ConsumerSpec
from risk import metrics
from risk.config import RiskSettings
from risk.handlers import observed_in_the_future, process
from risk.registry import ModelRegistry


class RiskEvents:
    """The batch handler: fold, score, and publish material changes through the outbox."""

    def __init__(self, *, outbox: Outbox, clock: Clock, registry: ModelRegistry) -> None:
        self._outbox = outbox
        self._clock = clock
        self._registry = registry

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        now = self._clock.now()
        for envelope in envelopes:
            signal = envelope.data
            if isinstance(signal, ExternalSignalReported) and observed_in_the_future(
                signal.observed_on, now
            ):
                raise RejectEvent(f"observed_on {signal.observed_on} is in the future")
        try:
            outcome = await process(
                session=session,
                events=[e.data for e in envelopes],
                scorer=self._registry.current,
                now=now,
                envelopes=envelopes,
            )
        except MoneyError as exc:  # an amount the currency cannot hold: that event is bad
            raise RejectEvent(str(exc)) from exc
        if outcome.events:
            metrics.assessments_published.add(len(outcome.events))
            await self._outbox.add_many(
                session, outcome.events, occurred_at=now, traceparents=outcome.traceparents
            )


def consumer_specs(
    *, settings: RiskSettings, outbox: Outbox, clock: Clock, registry: ModelRegistry
) -> list[ConsumerSpec]:
    """The scoring consumer."""
    handler = RiskEvents(outbox=outbox, clock=clock, registry=registry)
    return [ConsumerSpec("scoring", settings.consumed_topics, handler)]
