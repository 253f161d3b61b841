"""Searchable span attributes: ids and codes of the event, never personal data."""

from __future__ import annotations

import dataclasses
import json
import secrets

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext

from dunlin_events import new_envelope
from dunlin_events import testing as f
from dunlin_platform import router
from dunlin_platform.spans import event_attributes
from dunlin_platform.telemetry import current_traceparent, traceparent_of


def test_a_notification_request_is_searchable_by_case_step_channel_and_invoices():
    event = f.notification_requested()
    attributes = event_attributes(event)
    assert attributes["dunlin.case_id"] == event.case_id
    assert attributes["dunlin.dunning_step"] == "reminder"
    assert attributes["dunlin.channel"] == "email"
    assert attributes["dunlin.notification_id"] == event.notification_id
    assert attributes["dunlin.invoice_ids"] == [event.invoices[0].invoice_id]


def test_attributes_read_the_same_from_the_json_payload_the_relay_sees():
    event = f.invoice_issued()
    from_json = event_attributes(json.loads(event.model_dump_json()))
    assert from_json == event_attributes(event) == {"dunlin.invoice_id": event.invoice_id}


def test_no_personal_data_reaches_the_attributes():
    event = f.notification_requested()
    values = json.dumps(event_attributes(event))
    recipient = event.recipient
    assert recipient.email is not None
    assert recipient.phone is not None
    for personal in (recipient.name, recipient.email, recipient.phone, event.account_name):
        assert personal not in values


def test_a_processing_span_continues_the_producer_trace_with_the_event_ids(
    monkeypatch: pytest.MonkeyPatch,
):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(router, "tracer", lambda: provider.get_tracer("test"))
    trace_id = secrets.token_hex(16)
    event = f.payment_received()
    envelope = dataclasses.replace(
        new_envelope(event, source="/test"),
        traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01",
    )
    with router.processing_span(envelope) as span:
        traceparent = traceparent_of(span)
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "process PaymentReceived"
    assert finished.kind == trace.SpanKind.CONSUMER
    assert traceparent is not None
    assert traceparent.split("-")[1:3] == [trace_id, format(finished.context.span_id, "016x")]
    assert dict(finished.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.message.id": envelope.id,
        "dunlin.event_type": envelope.type,
        "dunlin.account_id": envelope.subject,
        **event_attributes(event),
    }


def test_traceparent_of_writes_what_the_propagator_writes():
    with trace.use_span(NonRecordingSpan(SpanContext(7, 9, is_remote=False))) as span:
        assert traceparent_of(span) == current_traceparent()
        assert traceparent_of(span.get_span_context()) == current_traceparent()
    assert traceparent_of(trace.INVALID_SPAN) is None
