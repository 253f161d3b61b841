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
    PaymentReceived,
    to_minor,
)
from dunlin_platform.clock import Clock
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from dunlin_platform.router import processing_span
from dunlin_platform.runtime import ConsumerSpec
from payments.config import PaymentsSettings
from payments.domain.errors import DomainError
from payments.handlers import invoices
from payments.handlers.payments import RecordPayment, record
from payments.repository import ledger as ledger_repo
from payments.repository import payments as payment_repo


class InvoicingEvents:
    """The batch handler of the invoicing-events consumer."""

    def __init__(self, *, outbox: Outbox, clock: Clock, settings: PaymentsSettings) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rule = settings.default_allocation_rule

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        now = self._clock.now()
        # Lock every account of the batch up front, in id order, so batches never deadlock.
        await ledger_repo.lock_accounts(
            session=session, account_ids={e.data.account_id for e in envelopes}
        )
        events: list[Event] = []
        for envelope in envelopes:
            with processing_span(envelope):
                data = envelope.data
                if isinstance(data, AccountRegistered):
                    await invoices.account_registered(session=session, event=data, now=now)
                elif isinstance(data, InvoiceIssued):
                    events += await invoices.invoice_issued(
                        session=session, event=data, default_rule=self._rule, now=now
                    )
                elif isinstance(data, InvoiceAdjusted):
                    events += await invoices.invoice_adjusted(
                        session=session, event=data, default_rule=self._rule, now=now
                    )
                elif isinstance(data, InvoiceSettled):
                    await invoices.invoice_settled(session=session, event=data)
        await self._outbox.add(session, *events, occurred_at=now)


class ErpPayments:
    """The batch handler of the erp-payments consumer: the source's ids in, Dunlin's out."""

    def __init__(self, *, outbox: Outbox, clock: Clock, settings: PaymentsSettings) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rule = settings.default_allocation_rule

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        now = self._clock.now()
        received = [(e, e.data) for e in envelopes if isinstance(e.data, PaymentReceived)]
        accounts_by_erp = await ledger_repo.accounts_by_external_id(
            session=session, external_ids={data.account_id for _, data in received}
        )
        accounts = await ledger_repo.lock_accounts(
            session=session, account_ids=set(accounts_by_erp.values())
        )
        seen = set(
            await payment_repo.payment_ids_by_external_id(
                session=session, external_ids={_source_id(data) for _, data in received}
            )
        )
        events: list[Event] = []
        for envelope, data in received:
            with processing_span(envelope):
                source_id = _source_id(data)
                if source_id in seen:
                    continue  # the same payment again: nothing changes
                account_id = accounts_by_erp.get(data.account_id)
                if account_id is None:
                    raise RejectEvent(
                        f"unknown account: no account has ERP id {data.account_id!r}"
                        " (payments learns accounts from invoicing.events)"
                    )
                try:
                    _, staged = await record(
                        session=session,
                        account=accounts[account_id],
                        command=_command(data, account_id, source_id),
                        default_rule=self._rule,
                        now=now,
                    )
                except DomainError as exc:
                    raise RejectEvent(exc.message) from exc
                seen.add(source_id)
                events += staged
        await self._outbox.add(session, *events, occurred_at=now)


def _source_id(data: PaymentReceived) -> str:
    """The source's own id of a payment: its external id, else its payment id."""
    return data.external_id or data.payment_id


def _command(data: PaymentReceived, account_id: str, source_id: str) -> RecordPayment:
    return RecordPayment(
        account_id=account_id,
        amount_minor=to_minor(data.amount, data.currency),
        currency=data.currency,
        method=data.method,
        received_on=data.received_on,
        source="erp",
        reference=data.reference,
        remittance=tuple(
            (line.invoice_id, to_minor(line.amount, data.currency)) for line in data.remittance
        ),
        external_id=source_id,
    )


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
