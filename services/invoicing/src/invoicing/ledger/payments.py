"""The payments consumer: PaymentReceived, PaymentAllocated and PaymentReversed to the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import (
    Envelope,
    Event,
    PaymentAllocated,
    PaymentReceived,
    PaymentReversed,
    to_minor,
)
from dunlin_platform.clock import Clock
from dunlin_platform.outbox import Outbox
from dunlin_platform.router import EventRouter
from invoicing.ledger.applier import Applier
from invoicing.ledger.book import Book, lock_invoices

PaymentEvent = PaymentReceived | PaymentAllocated | PaymentReversed


class PaymentsLedger:
    """Batch handler: lock every invoice the batch touches (one query), then route each event."""

    def __init__(self, *, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock
        self._applier: Applier | None = None
        self._router = EventRouter()
        self._router.on(PaymentReceived)(self._received)
        self._router.on(PaymentAllocated)(self._allocated)
        self._router.on(PaymentReversed)(self._reversed)

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        events = [e.data for e in envelopes if isinstance(e.data, PaymentEvent)]
        refs = {a.invoice_id for event in events for a in event.allocations}
        book = Book(now=self._clock.now())
        self._applier = Applier(
            session=session,
            book=book,
            invoices=await lock_invoices(session=session, refs=refs),
        )
        await self._applier.load({event.payment_id for event in events})
        try:
            await self._router(session, envelopes)
        finally:
            self._applier = None
        await book.flush(session=session, outbox=self._outbox)

    @property
    def _app(self) -> Applier:
        assert self._applier is not None, "only called inside a batch"
        return self._applier

    async def _received(self, _: AsyncSession, envelope: Envelope[Any]) -> None:
        data: PaymentReceived = envelope.data
        for alloc in data.allocations:
            if self._app.seen(data.payment_id, alloc.invoice_id):
                continue  # the same allocation again (re-sent under a new event id)
            self._app.allocate(
                account_id=data.account_id,
                payment_id=data.payment_id,
                ref=alloc.invoice_id,
                amount_minor=to_minor(alloc.amount, data.currency),
                currency=data.currency,
                received_on=data.received_on,
            )

    async def _allocated(self, _: AsyncSession, envelope: Envelope[Any]) -> None:
        data: PaymentAllocated = envelope.data
        for alloc in data.allocations:
            self._app.allocate(
                account_id=data.account_id,
                payment_id=data.payment_id,
                ref=alloc.invoice_id,
                amount_minor=to_minor(alloc.amount, data.currency),
                currency=data.currency,
                received_on=envelope.time.date(),
                kind="credit_applied",
            )

    async def _reversed(self, _: AsyncSession, envelope: Envelope[Any]) -> None:
        data: PaymentReversed = envelope.data
        for alloc in data.allocations:
            self._app.reverse(
                payment_id=data.payment_id,
                ref=alloc.invoice_id,
                amount_minor=to_minor(alloc.amount, data.currency),
                reversed_on=data.reversed_on,
                source_id=data.reversal_id,
            )
