"""Kafka subscriptions: requests from dunning.events, preferences from invoicing.events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import AccountRegistered, Envelope, Event, NotificationRequested
from dunlin_platform.clock import Clock
from dunlin_platform.router import processing_span
from dunlin_platform.runtime import ConsumerSpec
from dunlin_platform.telemetry import current_traceparent
from notifications.config import NotificationsSettings
from notifications.handlers import intake


class DunningEvents:
    """Batch handler: every NotificationRequested of the batch in one insert."""

    def __init__(self, *, clock: Clock, wake: asyncio.Event) -> None:
        self._clock = clock
        self._wake = wake

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        requests: list[NotificationRequested] = []
        traceparents: list[str | None] = []
        for envelope in envelopes:
            if isinstance(envelope.data, NotificationRequested):
                with processing_span(envelope):
                    requests.append(envelope.data)
                    traceparents.append(current_traceparent())
        if requests:
            await intake.notifications_requested(
                session=session,
                requests=requests,
                now=self._clock.now(),
                traceparents=traceparents,
            )
            # Early wake-ups only cost the worker an empty round; the commit is moments away.
            self._wake.set()


class InvoicingEvents:
    """Batch handler: account tags and consents from AccountRegistered."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        for envelope in envelopes:
            if isinstance(envelope.data, AccountRegistered):
                with processing_span(envelope):
                    await intake.account_registered(
                        session=session, event=envelope.data, now=self._clock.now()
                    )


def consumer_specs(
    *, settings: NotificationsSettings, clock: Clock, wake: asyncio.Event
) -> list[ConsumerSpec]:
    """Requests to deliver and the account preferences that govern them."""
    return [
        ConsumerSpec(
            "dunning-events",
            [settings.dunning_events_topic],
            DunningEvents(clock=clock, wake=wake),
        ),
        ConsumerSpec(
            "invoicing-events", [settings.invoicing_events_topic], InvoicingEvents(clock=clock)
        ),
    ]
