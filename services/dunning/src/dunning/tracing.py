"""Step spans: each step the sweep takes continues the trace of the invoice it concerns."""

from __future__ import annotations

from types import TracebackType

from opentelemetry import trace

from dunlin_platform.router import tracer
from dunlin_platform.spans import MAX_INVOICE_IDS
from dunlin_platform.telemetry import context_from_traceparent, traceparent_of
from dunning.domain.case import StepTrace, StepTracer


class step_span:  # noqa: N801 - used like the context-manager function it replaced
    """`dunning step <key>`, child of the oldest concerned invoice's InvoiceIssued trace.

    Yields the span's traceparent for the step's outbox events. Attributes are ids only and
    are built only when the span records (unsampled spans still carry their ids onward).
    The span is not made current: nothing inside a step reads the active context (its events
    take the traceparent yielded here), and attaching a context costs more than the span.
    """

    __slots__ = ("_span",)

    def __init__(self, step: StepTrace, step_tracer: trace.Tracer | None = None) -> None:
        span = (step_tracer or tracer()).start_span(
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
        self._span = span

    def __enter__(self) -> str | None:
        return traceparent_of(self._span)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self._span.is_recording():
            self._span.record_exception(exc)
            self._span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        self._span.end()


def step_spans() -> StepTracer:
    """`step_span` with the tracer looked up once, for a batch of steps (a lookup is ~2 us)."""
    step_tracer = tracer()
    return lambda step: step_span(step, step_tracer)
