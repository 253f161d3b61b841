"""Step spans: each step the sweep takes continues the trace of the invoice it concerns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from dunlin_events import Envelope, Event
from dunlin_platform.spans import event_attributes
from dunlin_platform.telemetry import context_from_traceparent, tracer
from dunning.domain.case import StepTrace

_MAX_INVOICE_IDS = 50  # as dunlin_platform.spans.event_attributes
# A proxy until telemetry is set up, then the real tracer: looked up once, not per step.
_tracer = tracer()


def traceparent_of(span: trace.Span) -> str | None:
    """The W3C traceparent of a span (what the propagator would inject with it current)."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


@contextmanager
def step_span(step: StepTrace) -> Iterator[str | None]:
    """`dunning step <key>`, child of the oldest concerned invoice's InvoiceIssued trace.

    Yields the span's traceparent for the step's outbox events. Attributes are ids only and
    are built only when the span records (unsampled spans still carry their ids onward).
    """
    span = _tracer.start_span(
        f"dunning step {step.step_key}",
        context=context_from_traceparent(step.parent),
        kind=trace.SpanKind.INTERNAL,
    )
    if span.is_recording():
        span.set_attributes(
            {
                "dunlin.account_id": step.account_id,
                "dunlin.case_id": step.case_id,
                "dunlin.dunning_step": step.step_key,
                "dunlin.channel": ",".join(step.channels),
                "dunlin.invoice_ids": list(step.invoice_ids[:_MAX_INVOICE_IDS]),
            }
        )
    with trace.use_span(span, end_on_exit=True):
        yield traceparent_of(span)


@contextmanager
def message_span(envelope: Envelope[Event]) -> Iterator[str | None]:
    """dunlin_platform.router.processing_span, with attributes only when the span records.

    Same name, kind, parent and attributes; but an unsampled span (the default without an
    exporter) skips `event_attributes`, which costs as much as folding the event itself.
    Yields the span's traceparent for what the message causes.
    """
    span = _tracer.start_span(
        f"process {envelope.data.event_name}",
        context=context_from_traceparent(envelope.traceparent),
        kind=trace.SpanKind.CONSUMER,
    )
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": "kafka",
                "messaging.message.id": envelope.id,
                "dunlin.event_type": envelope.type,
                "dunlin.account_id": envelope.subject,
                **event_attributes(envelope.data),
            }
        )
    with trace.use_span(span, end_on_exit=True):
        yield traceparent_of(span)
