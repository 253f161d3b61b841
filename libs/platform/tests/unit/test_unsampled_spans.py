"""Tracing off (ALWAYS_OFF): processing spans built directly are the SDK's own, and the
traceparent parser is the W3C propagator's."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from opentelemetry import trace
from opentelemetry.sdk.environment_variables import OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dunlin_events import new_envelope
from dunlin_events import testing as f
from dunlin_platform import router
from dunlin_platform.telemetry import (
    context_from_traceparent,
    parent_span_context,
    samples_nothing,
    traceparent_of,
    unsampled_child,
)

TRACE_ID, SPAN_ID = secrets.token_hex(16), secrets.token_hex(8)
TRACEPARENTS = [
    None,
    "",
    f"00-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}-00",
    f"00-{TRACE_ID}-{SPAN_ID}-02",  # random-trace-id flag, not sampled
    f"00-{TRACE_ID}-{SPAN_ID}-03",
    f" \t00-{TRACE_ID}-{SPAN_ID}-01\t ",
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly four fields
    f"01-{TRACE_ID}-{SPAN_ID}-01-extra",  # a later version may have more
    f"ff-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{'0' * 32}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{'0' * 16}-01",
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}",
    "garbage",
]


@pytest.mark.parametrize("traceparent", TRACEPARENTS)
def test_the_parent_is_what_the_w3c_propagator_extracts(traceparent: str | None) -> None:
    carrier = {"traceparent": traceparent} if traceparent is not None else {}
    expected = trace.get_current_span(TraceContextTextMapPropagator().extract(carrier))
    parsed = parent_span_context(traceparent)
    assert (parsed or trace.INVALID_SPAN_CONTEXT) == expected.get_span_context()
    assert trace.get_current_span(context_from_traceparent(traceparent)).get_span_context() == (
        expected.get_span_context()
    )


def _off_tracer() -> SdkTracer:
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    assert isinstance(tracer, SdkTracer)
    return tracer


@pytest.mark.parametrize("traceparent", TRACEPARENTS)
def test_an_unsampled_child_is_the_span_the_sdk_starts(traceparent: str | None) -> None:
    tracer = _off_tracer()
    parent = parent_span_context(traceparent)
    sdk = tracer.start_span("x", context=context_from_traceparent(traceparent))
    ours = unsampled_child(tracer, parent)
    got, want = ours.get_span_context(), sdk.get_span_context()
    assert not ours.is_recording()
    assert (got.trace_flags, got.trace_state, got.is_remote) == (
        want.trace_flags,
        want.trace_state,
        want.is_remote,
    )
    assert got.is_valid
    assert got.span_id not in (want.span_id, parent.span_id if parent else None)
    if parent is None:
        assert got.trace_id != want.trace_id  # a new root trace each
    else:
        assert got.trace_id == want.trace_id == parent.trace_id


def test_only_the_always_off_sdk_tracer_samples_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert samples_nothing(_off_tracer())
    assert not samples_nothing(TracerProvider(sampler=ALWAYS_ON).get_tracer("test"))
    assert not samples_nothing(TracerProvider().get_tracer("test"))
    assert not samples_nothing(trace.NoOpTracer())
    monkeypatch.setenv(OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED, "true")
    assert not samples_nothing(_off_tracer())


@pytest.mark.parametrize("traceparent", [f"00-{TRACE_ID}-{SPAN_ID}-01", None, "garbage"])
def test_with_tracing_off_the_processing_span_is_current_and_carries_the_trace(
    monkeypatch: pytest.MonkeyPatch, traceparent: str | None
) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    envelope = dataclasses.replace(
        new_envelope(f.payment_received(), source="/test"), traceparent=traceparent
    )
    before = trace.get_current_span()
    with router.processing_span(envelope) as span:
        current = traceparent_of(trace.get_current_span())
    assert trace.get_current_span() is before
    assert not span.is_recording()
    assert current == traceparent_of(span)
    assert current is not None
    version, trace_id, span_id, flags = current.split("-")
    assert version == "00"
    assert not int(flags, 16) & trace.TraceFlags.SAMPLED
    assert span_id not in (SPAN_ID, "0" * 16)
    assert (trace_id == TRACE_ID) is (traceparent is not None and traceparent != "garbage")


def test_a_failure_inside_the_off_span_restores_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    envelope = new_envelope(f.payment_received(), source="/test")
    before = trace.get_current_span()
    with pytest.raises(RuntimeError), router.processing_span(envelope):
        raise RuntimeError("handler failed")
    assert trace.get_current_span() is before
