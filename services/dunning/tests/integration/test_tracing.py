"""One trace per invoice: dunning's steps continue the trace of the InvoiceIssued they concern."""

from __future__ import annotations

import secrets

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings

from .support import Scenario


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _trace_id(traceparent: str | None) -> str | None:
    return traceparent.split("-")[1] if traceparent else None


async def test_step_events_carry_the_invoice_trace_and_a_close_carries_the_payment_trace(
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sc = Scenario(client, settings, clock, sessionmaker)
    invoice_trace, invoice_tp = _traceparent()
    payment_trace, payment_tp = _traceparent()
    invoice = sc.invoice("300.00", due_in_days=2)
    await sc.invoicing(sc.account)
    await sc.send(settings.invoicing_events_topic, invoice, traceparent=invoice_tp)
    # A later duplicate in another trace does not move the invoice to that trace.
    await sc.send(settings.invoicing_events_topic, invoice, traceparent=_traceparent()[1])
    await sc.days(4)
    await sc.send(
        settings.payments_events_topic,
        sc.payment(invoice.invoice_id, "300.00"),
        traceparent=payment_tp,
    )
    published = await sc.published_envelopes()
    by_type: dict[str, list[str | None]] = {}
    for envelope in published:
        by_type.setdefault(type(envelope.data).__name__, []).append(envelope.traceparent)
    notifications = by_type["NotificationRequested"]
    assert len(notifications) == 2  # courtesy and reminder
    assert {_trace_id(tp) for tp in notifications} == {invoice_trace}
    assert {_trace_id(tp) for tp in by_type["DunningStepExecuted"]} == {invoice_trace}
    # Each event is a child of its step's span, not of the InvoiceIssued producer span itself.
    assert invoice_tp not in notifications
    assert [_trace_id(tp) for tp in by_type["DunningCaseClosed"]] == [payment_trace]
