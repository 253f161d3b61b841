"""Kafka subscriptions: invoicing.events into the read model, erp.payments into payments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import (
    AccountRegistered,
    Envelope,
    Event,
    InvoiceAdjusted,
    InvoiceIssued,
    InvoiceSettled,
    MoneyError,
    PaymentReceived,
    PaymentReturned,
)
from dunlin_platform.clock import Clock
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from dunlin_platform.router import processing_span
from dunlin_platform.runtime import ConsumerSpec
from dunlin_platform.telemetry import current_traceparent
from payments.config import PaymentsSettings
from payments.domain.errors import DomainError
from payments.handlers import erp_payments, invoices
from payments.repository import ledger as ledger_repo
from payments.repository import pending as pending_repo


class InvoicingEvents:
    """The batch handler of the invoicing-events consumer."""

    def __init__(self, *, outbox: Outbox, clock: Clock, settings: PaymentsSettings) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rule = settings.default_allocation_rule

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        now = self._clock.now()
        registered = [e.data for e in envelopes if isinstance(e.data, AccountRegistered)]
        # ERP-account locks first, then every account of the batch in id order: the order the
        # erp-payments consumer takes them in, so batches never deadlock.
        await pending_repo.lock_erp_accounts(
            session=session, erp_account_ids={a.external_id for a in registered if a.external_id}
        )
        await ledger_repo.lock_accounts(
            session=session, account_ids={e.data.account_id for e in envelopes}
        )
        staged = _Staged()
        for envelope in envelopes:
            with processing_span(envelope):
                data = envelope.data
                if isinstance(data, AccountRegistered):
                    await invoices.account_registered(session=session, event=data, now=now)
                elif isinstance(data, InvoiceIssued):
                    staged.add(
                        await invoices.invoice_issued(
                            session=session, event=data, default_rule=self._rule, now=now
                        )
                    )
                elif isinstance(data, InvoiceAdjusted):
                    staged.add(
                        await invoices.invoice_adjusted(
                            session=session, event=data, default_rule=self._rule, now=now
                        )
                    )
                elif isinstance(data, InvoiceSettled):
                    await invoices.invoice_settled(session=session, event=data)
        # Held payments go in after the batch's invoices, so they find what they pay for.
        accounts = await ledger_repo.lock_accounts(
            session=session, account_ids={a.account_id for a in registered}
        )
        for account in accounts.values():
            for event, traceparent in await erp_payments.release_held(
                session=session, account=account, default_rule=self._rule, now=now
            ):
                staged.add([event], traceparent=traceparent)
        await self._outbox.add(
            session, *staged.events, occurred_at=now, traceparents=staged.traceparents
        )


class _Staged:
    """Events to publish, each with the trace it continues."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.traceparents: list[str | None] = []

    def add(self, events: Sequence[Event], *, traceparent: str | None = None) -> None:
        self.events += events
        self.traceparents += [traceparent or current_traceparent()] * len(events)


class ErpPayments:
    """The batch handler of the erp-payments consumer: the source's ids in, Dunlin's out."""

    def __init__(self, *, outbox: Outbox, clock: Clock, settings: PaymentsSettings) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rule = settings.default_allocation_rule

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        now = self._clock.now()
        batch = await erp_payments.open_batch(
            session=session,
            payments=[e.data for e in envelopes if isinstance(e.data, PaymentReceived)],
            returns=[e.data for e in envelopes if isinstance(e.data, PaymentReturned)],
        )
        events: list[Event] = []
        for envelope in envelopes:
            data = envelope.data
            with processing_span(envelope):
                try:
                    if isinstance(data, PaymentReceived):
                        events += await erp_payments.receive(
                            session=session,
                            batch=batch,
                            payment=data,
                            event_id=envelope.id,
                            traceparent=current_traceparent(),
                            default_rule=self._rule,
                            now=now,
                        )
                    elif isinstance(data, PaymentReturned):
                        events += await erp_payments.return_payment(
                            session=session,
                            batch=batch,
                            returned=data,
                            traceparent=current_traceparent(),
                            default_rule=self._rule,
                            now=now,
                        )
                except (DomainError, MoneyError) as exc:
                    raise RejectEvent(str(exc)) from exc
        await self._outbox.add(session, *events, occurred_at=now)


def consumer_specs(
    *, settings: PaymentsSettings, outbox: Outbox, clock: Clock
) -> list[ConsumerSpec]:
    """The read model of invoicing and the ERP payments inbound."""
    return [
        ConsumerSpec(
            "invoicing-events",
            [settings.invoicing_events_topic],
            InvoicingEvents(outbox=outbox, clock=clock, settings=settings),
        ),
        ConsumerSpec(
            "erp-payments",
            [settings.erp_payments_topic],
            ErpPayments(outbox=outbox, clock=clock, settings=settings),
        ),
    ]
