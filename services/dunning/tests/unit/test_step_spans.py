"""Step spans: children of the invoice's trace, searchable by ids, free of personal data."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from dunlin_events import DunningStepExecuted
from dunlin_platform.telemetry import parent_span_context
from dunning import tracing
from dunning.domain.case import StepTrace, Untraced, advance
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


_PARENTS = [
    None,
    "",
    "garbage",
    f"00-{'a1' * 16}-{'b2' * 8}-01",
    f"00-{'a1' * 16}-{'b2' * 8}-00",
    f"00-{'a1' * 16}-{'b2' * 8}-03",
    f"00-{'a1' * 16}-{'b2' * 8}-02",
    f" 00-{'a1' * 16}-{'b2' * 8}-01\t",
    f"00-{'0' * 32}-{'b2' * 8}-01",
    f"00-{'a1' * 16}-{'0' * 16}-01",
    f"ff-{'a1' * 16}-{'b2' * 8}-01",
    f"00-{'a1' * 16}-{'b2' * 8}-01-extra",
    f"01-{'a1' * 16}-{'b2' * 8}-01-extra",
    f"00-{'A1' * 16}-{'b2' * 8}-01",
]


def _step(parent: str | None) -> StepTrace:
    return StepTrace("acc", "case", "reminder", ("email",), ("inv",), parent)


@pytest.mark.parametrize("parent", _PARENTS)
@pytest.mark.parametrize("random_ids", [True, False])
def test_without_spans_when_unsampled_steps_get_the_traceparent_a_span_would_have(
    monkeypatch: pytest.MonkeyPatch, parent: str | None, random_ids: bool
) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF, id_generator=_Ids(random_ids))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    fast = tracing.step_spans()
    assert isinstance(fast, Untraced)
    with tracing.step_span(_step(parent), provider.get_tracer("test")) as slow_tp:
        pass
    with fast(_step(parent)) as fast_tp:
        pass
    assert slow_tp is not None
    assert fast_tp is not None
    slow, quick = slow_tp.split("-"), fast_tp.split("-")
    # Same version, trace (a new one for a root) and flags; each span has an id of its own.
    assert len(quick) == len(slow) == 4
    assert (quick[0], quick[3]) == (slow[0], slow[3])
    assert (quick[1] == slow[1]) == (parent_span_context(parent) is not None)
    assert quick[2] != slow[2]
    assert (len(quick[1]), len(quick[2])) == (32, 16)
    assert int(quick[1], 16) > 0
    assert int(quick[2], 16) > 0


@pytest.mark.parametrize("parent", _PARENTS)
def test_without_spans_under_the_no_op_tracer_steps_carry_what_its_spans_would(
    monkeypatch: pytest.MonkeyPatch, parent: str | None
) -> None:
    no_op = trace.NoOpTracer()
    monkeypatch.setattr(tracing, "tracer", lambda: no_op)
    fast = tracing.step_spans()
    assert isinstance(fast, Untraced)
    with tracing.step_span(_step(parent), no_op) as slow_tp, fast(_step(parent)) as fast_tp:
        assert fast_tp == slow_tp


def test_a_proxy_tracer_is_no_op_only_while_no_provider_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = trace.ProxyTracer("test")  # what `get_tracer` returns before any provider is set
    monkeypatch.setattr(tracing, "tracer", lambda: proxy)
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert isinstance(tracing.step_spans(), Untraced)
    monkeypatch.setattr(trace, "get_tracer_provider", TracerProvider)
    assert not isinstance(tracing.step_spans(), Untraced)


def test_recording_tracers_still_open_a_span_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = _provider(monkeypatch)
    assert not isinstance(tracing.step_spans(), Untraced)
    with tracing.step_spans()(_step(None)):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["dunning step reminder"]


@pytest.mark.parametrize("sampler", [ALWAYS_OFF, None])
def test_advance_without_spans_gives_each_step_s_events_the_step_s_traceparent(
    monkeypatch: pytest.MonkeyPatch, sampler: object
) -> None:
    """The same events and the same traces per step, span or no span."""
    trace_id = secrets.token_hex(16)
    accounts = []
    for _ in range(2):
        account = Account()
        older = account.invoice(due_in_days=-20)
        account.invoice(due_in_days=-18)
        _issued_in_trace(account, older, f"00-{trace_id}-{secrets.token_hex(8)}-01")
        accounts.append(account)
    kwargs = {} if sampler is None else {"sampler": sampler}
    _provider(monkeypatch, **kwargs)
    results = []
    for account, fast in zip(accounts, (False, True), strict=True):
        trace_step = tracing.step_spans() if fast else tracing.step_span
        assert isinstance(trace_step, Untraced) == (fast and sampler is not None)
        fx = advance(
            account.state, account.policy(), account.now, execute=True, trace_step=trace_step
        )
        parents = fx.traceparents(None)
        results.append(
            (
                [type(e).__name__ for e in fx.events],
                [p.split("-")[1] for p in parents if p],
                [p is None for p in parents],
                len({p.split("-")[2] for p in parents if p}),
            )
        )
    assert results[0] == results[1]
    assert set(results[0][1]) == {trace_id}


class _Ids(RandomIdGenerator):
    def __init__(self, random_ids: bool) -> None:
        self._random = random_ids

    def is_trace_id_random(self) -> bool:
        return self._random
