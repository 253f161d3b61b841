"""One trace follows an invoice from `POST /invoices` to the delivered e-mail.

REST call -> invoicing -> outbox relay -> Kafka -> dunning's step -> NotificationRequested
-> Kafka -> notifications -> SMTP: every span in one trace, each the child of the one
before, with ids an operator can search by and no personal data.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Platform, flush_spans
from .otlp import ReceivedSpan
from .support import eventually, sweep
from .test_collections import case_of, delivered, new_overdue_invoice, next_weekday_morning

pytestmark = pytest.mark.asyncio(loop_scope="session")

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP SpanKind values
COMPLETE = {"deliver email", "publish dunlin.notifications.NotificationSent.v1"}


def trace_of(spans: list[ReceivedSpan], trace_id: str) -> dict[str, ReceivedSpan]:
    return {s.span_id: s for s in spans if s.trace_id == trace_id}


async def test_one_trace_follows_the_invoice_to_the_delivered_email(platform: Platform):
    platform.clock.set(next_weekday_morning(platform.clock.now()))
    email = f"ap-{uuid.uuid4().hex[:8]}@mueller.example"
    # Due in two days: the courtesy step (three days before) is due now.
    invoice = await new_overdue_invoice(platform, email, days_overdue=-2)
    account_id = invoice["account_id"]

    async def case_knows_the_invoice() -> dict[str, Any] | None:
        # The case exists from AccountRegistered on; the sweep needs InvoiceIssued applied.
        case = await case_of(platform, account_id)
        ids = {i.get("invoice_id") for i in case["invoices"]} if case else set()
        return case if invoice["id"] in ids else None

    await eventually(case_knows_the_invoice)
    await sweep(platform.dunning)
    await eventually(lambda: delivered(platform, email))

    async def trace_complete() -> dict[str, ReceivedSpan] | None:
        flush_spans()
        spans = platform.spans.snapshot()
        roots = [
            s
            for s in spans
            if s.kind == SERVER
            and s.attributes.get("http.route") == "/invoices"
            and s.attributes.get("http.request.method", s.attributes.get("http.method")) == "POST"
        ]
        for root in roots:
            found = trace_of(spans, root.trace_id)
            names = {s.name for s in found.values()}
            ours = any(
                s.attributes.get("dunlin.invoice_id") == invoice["id"] for s in found.values()
            )
            if (
                ours
                and {"deliver email", "publish dunlin.notifications.NotificationSent.v1"} <= names
            ):
                return found
        return None

    spans = await eventually(trace_complete)
    names = [s.name for s in spans.values()]
    # Every hop is in the trace, each span the child of one in the same trace.
    for expected in (
        "publish dunlin.invoicing.InvoiceIssued.v1",
        "process InvoiceIssued",
        "publish dunlin.dunning.NotificationRequested.v1",
        "process NotificationRequested",
    ):
        assert expected in names, f"{expected!r} missing from {sorted(names)}"
    assert any(n.startswith("dunning step") for n in names), sorted(names)
    deliver = next(s for s in spans.values() if s.name == "deliver email")
    assert spans[deliver.parent_span_id or ""].name == "process NotificationRequested"
    outcome = next(s for s in spans.values() if s.name.endswith("NotificationSent.v1"))
    assert outcome.parent_span_id == deliver.span_id
    [root] = [s for s in spans.values() if s.parent_span_id is None]
    assert root.kind == SERVER
    for span in spans.values():
        if span is not root:
            assert span.parent_span_id in spans, f"{span.name} has a parent outside the trace"
    # Kafka hops: each consumer span is the child of the producer span of its message.
    for span in spans.values():
        if span.kind == CONSUMER and span.name.startswith("process "):
            parent = spans[span.parent_span_id or ""]
            assert parent.kind == PRODUCER, f"{span.name} is under {parent.name}"
    searchable = [s for s in spans.values() if s.attributes.get("dunlin.invoice_id")]
    assert {s.attributes["dunlin.invoice_id"] for s in searchable} == {invoice["id"]}
    dunning_step = next(s for s in spans.values() if s.name.startswith("dunning step"))
    assert dunning_step.attributes.get("dunlin.dunning_step") == "courtesy"
    assert email not in repr([s.attributes for s in spans.values()])
    # SQL is traced too (in one process only the first service's engine is instrumented).
    sql = [s for s in platform.spans.snapshot() if s.attributes.get("db.system") == "postgresql"]
    assert sql, "no SQL spans were exported"
