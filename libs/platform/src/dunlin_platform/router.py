"""Per-event dispatch for consumers, each event in its own processing span."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event
from dunlin_platform.spans import event_attributes
from dunlin_platform.telemetry import context_from_traceparent, tracer

E = TypeVar("E", bound=Event)
EventHandler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]


@contextmanager
def processing_span(envelope: Envelope[Event]) -> Iterator[trace.Span]:
    """A span for processing one message, child of the producer's trace context."""
    with tracer().start_as_current_span(
        f"process {envelope.data.event_name}",
        context=context_from_traceparent(envelope.traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.message.id": envelope.id,
            "dunlin.event_type": envelope.type,
            "dunlin.account_id": envelope.subject,
            **event_attributes(envelope.data),
        },
    ) as span:
        yield span


class EventRouter:
    """A batch handler that dispatches each event, in order, to the handler of its type."""

    def __init__(self) -> None:
        self._routes: dict[type[Event], EventHandler] = {}

    def on(self, *event_types: type[E]) -> Callable[[EventHandler], EventHandler]:
        """Register a handler for one or more event types."""

        def register(handler: EventHandler) -> EventHandler:
            for event_type in event_types:
                if event_type in self._routes:
                    raise ValueError(f"{event_type.__name__} already has a handler")
                self._routes[event_type] = handler
            return handler

        return register

    def handles(self, event_type: type[Event]) -> bool:
        return event_type in self._routes

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        for envelope in envelopes:
            handler = self._routes.get(type(envelope.data))
            if handler is None:
                continue  # a known event this service does not act on
            with processing_span(envelope):
                await handler(session, envelope)
