"""Step spans: children of the invoice's trace, searchable by ids, free of personal data."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from dunlin_events import DunningStepExecuted
from dunning import tracing
from dunning.domain.case import advance
from dunning.domain.facts import apply

from .builders import Account, uid


def _provider(monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**kwargs)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    return exporter


def _issued_in_trace(account: Account, invoice_id: str, traceparent: str) -> None:
    event, _, at = next(f for f in account.fed if getattr(f[0], "invoice_id", None) == invoice_id)
    apply(account.state, event, event_id=uid("ev"), at=at, traceparent=traceparent)


def test_each_step_is_a_span_in_the_oldest_invoice_trace_with_ids_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = _provider(monkeypatch)
    trace_id = secrets.token_hex(16)
    account = Account()
    older = account.invoice(due_in_days=-20)
    newer = account.invoice(due_in_days=-18)
    _issued_in_trace(account, older, f"00-{trace_id}-{secrets.token_hex(8)}-01")
    _issued_in_trace(account, newer, f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")
    fx = advance(
        account.state, account.policy(), account.now, execute=True, trace_step=tracing.step_span
    )
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [
        "dunning step courtesy",
        "dunning step reminder",
        "dunning step firm_reminder",
        "dunning step call",
    ]
    assert {format(s.context.trace_id, "032x") for s in spans} == {trace_id}
    call = spans[-1].attributes
    assert call is not None
    assert call["dunlin.account_id"] == account.id
    assert call["dunlin.dunning_step"] == "call"
    assert call["dunlin.channel"] == "phone"
    assert list(call["dunlin.invoice_ids"]) == [older, newer]  # type: ignore[arg-type]
    text = repr(dict(call))
    for personal in ("Ada", "acme.example", "+49", "Hauptstr"):
        assert personal not in text
    # Each step's events carry that step's span as their parent.
    steps = [i for i, e in enumerate(fx.events) if isinstance(e, DunningStepExecuted)]
    parents = fx.traceparents(None)
    assert [parents[i].split("-")[2] for i in steps] == [  # type: ignore[union-attr]
        format(s.context.span_id, "016x") for s in spans
    ]


def test_unsampled_steps_record_nothing_but_still_pass_the_trace_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = _provider(monkeypatch, sampler=ALWAYS_OFF)
    trace_id = secrets.token_hex(16)
    account = Account()
    invoice = account.invoice(due_in_days=-2)
    _issued_in_trace(account, invoice, f"00-{trace_id}-{secrets.token_hex(8)}-00")
    fx = advance(
        account.state, account.policy(), account.now, execute=True, trace_step=tracing.step_span
    )
    assert exporter.get_finished_spans() == ()
    parents = fx.traceparents(None)
    assert parents
    assert all(p is not None and p.split("-")[1] == trace_id for p in parents)
