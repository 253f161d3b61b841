"""Step spans: each step the sweep takes continues the trace of the invoice it concerns."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer as SdkTracer

from dunlin_platform.router import tracer
from dunlin_platform.spans import MAX_INVOICE_IDS
from dunlin_platform.telemetry import (
    context_from_traceparent,
    samples_nothing,
    traceparent_ids,
    traceparent_of,
)
from dunning.domain.case import StepTrace, StepTracer, Untraced


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
    """`step_span` with the tracer looked up once, for a batch of steps (a lookup is ~2 us).

    When that tracer records nothing, no span is made at all (`Untraced`): each step's
    events get the traceparent its span would have had, written from the parent's ids.
    With tracing off (the SDK with ALWAYS_OFF, see `samples_nothing`) that is the parent's
    trace with a new span id, as `unsampled_child` makes it; with the API's no-op tracer
    (no provider installed) it is the parent's own traceparent. `test_step_spans.py` holds
    both to the spans `step_span` starts.
    """
    step_tracer = tracer()
    if isinstance(step_tracer, SdkTracer) and samples_nothing(step_tracer):
        return Untraced(_unsampled_child_of(step_tracer))
    if _no_op(step_tracer):
        return Untraced(_same_as_parent)
    return lambda step: step_span(step, step_tracer)


def _no_op(step_tracer: trace.Tracer) -> bool:
    """The API's tracer without an SDK: its spans are the parent's (or the invalid) one."""
    if isinstance(step_tracer, trace.NoOpTracer):
        return True
    # A proxy tracer delegates to the no-op tracer until a provider is installed.
    return isinstance(step_tracer, trace.ProxyTracer) and isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    )


def _same_as_parent(parent: str | None) -> str | None:
    """What a no-op tracer's span under `parent` yields: the parent, normalised, or None."""
    ids = traceparent_ids(parent)
    if ids is None:
        return None
    trace_id, span_id, flags = ids
    return f"00-{trace_id}-{span_id}-{flags:02x}"


def _unsampled_child_of(step_tracer: SdkTracer) -> Callable[[str | None], str | None]:
    """The traceparent of the span an ALWAYS_OFF SDK tracer starts under `parent`.

    As `unsampled_child` builds it: the parent's trace id (a new one for a root), a new span
    id, not sampled, the random-trace-id flag carried over (or the generator's for a root).
    """
    generator = step_tracer.id_generator
    random_flag = trace.TraceFlags.RANDOM_TRACE_ID

    def child(parent: str | None) -> str | None:
        ids = traceparent_ids(parent)
        if ids is None:
            trace_id = f"{generator.generate_trace_id():032x}"
            flags = random_flag if generator.is_trace_id_random() else 0
        else:
            trace_id, flags = ids[0], ids[2] & random_flag
        return f"00-{trace_id}-{generator.generate_span_id():016x}-{flags:02x}"

    return child
