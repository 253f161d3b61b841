"""Per-event dispatch for consumers, each event in its own processing span."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer as SdkTracer
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Envelope, Event
from dunlin_platform.spans import event_attributes
from dunlin_platform.telemetry import (
    context_from_traceparent,
    parent_span_context,
    samples_nothing,
    unsampled_child,
)
from dunlin_platform.telemetry import tracer as _new_tracer

E = TypeVar("E", bound=Event)
EventHandler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]


class _Cached(NamedTuple):
    """Dunlin's tracer under one tracer provider, and whether it samples nothing."""

    provider: trace.TracerProvider
    tracer: trace.Tracer
    off: SdkTracer | None  # the tracer again when `samples_nothing` holds for it


_cached: _Cached | None = None


def _current() -> _Cached:
    """Dunlin's tracer, looked up once per tracer provider (a lookup costs ~10 us)."""
    global _cached
    provider = trace.get_tracer_provider()
    if _cached is None or _cached.provider is not provider:
        new = _new_tracer()
        off = new if isinstance(new, SdkTracer) and samples_nothing(new) else None
        _cached = _Cached(provider, new, off)
    return _cached


def tracer() -> trace.Tracer:
    """Dunlin's tracer, looked up once per tracer provider (a lookup costs ~10 us)."""
    return _current().tracer


@contextmanager
def processing_span(envelope: Envelope[Event]) -> Iterator[trace.Span]:
    """A span for processing one message, child of the producer's trace context.

    The event's searchable ids (`dunlin.*`, see spans.event_attributes) are read only when
    the span is recorded: reading them costs more than the unsampled span itself. When
    tracing is off (`setup_telemetry` without an exporter: the SDK with ALWAYS_OFF) the
    span is the SDK's unsampled one built directly (`unsampled_child`, ~1/5 of the CPU of
    `start_as_current_span`), still current so that what is written under it carries the
    producer's trace id.
    """
    span_tracer = tracer()
    off = _cached.off if _cached is not None else None
    if off is not None and span_tracer is off:
        span = unsampled_child(off, parent_span_context(envelope.traceparent))
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        finally:
            otel_context.detach(token)
        return
    with span_tracer.start_as_current_span(
        f"process {envelope.data.event_name}",
        context=context_from_traceparent(envelope.traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.message.id": envelope.id,
            "dunlin.event_type": envelope.type,
            "dunlin.account_id": envelope.subject,
        },
    ) as span:
        if span.is_recording():
            span.set_attributes(event_attributes(envelope.data))
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
