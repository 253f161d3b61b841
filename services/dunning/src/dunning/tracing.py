"""Step spans: each step the sweep takes continues the trace of the invoice it concerns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from dunlin_platform.router import tracer
from dunlin_platform.spans import MAX_INVOICE_IDS
from dunlin_platform.telemetry import context_from_traceparent, traceparent_of
from dunning.domain.case import StepTrace


@contextmanager
def step_span(step: StepTrace) -> Iterator[str | None]:
    """`dunning step <key>`, child of the oldest concerned invoice's InvoiceIssued trace.

    Yields the span's traceparent for the step's outbox events. Attributes are ids only and
    are built only when the span records (unsampled spans still carry their ids onward).
    """
    span = tracer().start_span(
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
                "dunlin.invoice_ids": list(step.invoice_ids[:MAX_INVOICE_IDS]),
            }
        )
    with trace.use_span(span, end_on_exit=True):
        yield traceparent_of(span)
