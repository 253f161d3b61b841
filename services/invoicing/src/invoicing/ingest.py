"""ERP inbound (erp.invoices): invoices and account master data keyed by the ERP's own ids.

A batch is resolved with a handful of queries whatever its size: accounts, known invoices and
taken invoice numbers are looked up once, the batch is applied in memory, then written with
one insert per table and one outbox insert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import AccountRegistered, Envelope, Event, InvoiceIssued, to_minor
from dunlin_platform.clock import Clock
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.outbox import Outbox
from dunlin_platform.router import processing_span
from dunlin_platform.telemetry import traceparent_of
from invoicing import messages, repository
from invoicing.domain import (
    Account,
    DomainError,
    EarlyPaymentDiscount,
    Invoice,
    Line,
    Terms,
    issue_invoice,
    placeholder_account,
)
from invoicing.handlers import new_id
from invoicing.ledger.amendments import Amendment, apply_amendments
from invoicing.ledger.known import invoices_became_known


def fingerprint(event: Event) -> str:
    """A hash of what the ERP sent, so an identical re-send is recognised and ignored.

    The bytes `model_dump_json` would return as text (not decoded and encoded again).
    """
    return hashlib.sha256(event.__pydantic_serializer__.to_json(event)).hexdigest()


@dataclass
class _Batch:
    """What the batch knows and what it will write, keyed the way lookups need it."""

    accounts: dict[str, tuple[Account, str | None]]  # by ERP account id
    invoices: dict[str, str | None]  # ERP invoice id -> fingerprint
    taken_numbers: set[tuple[str, str]]
    new_accounts: dict[str, tuple[Account, str | None]] = field(default_factory=dict)
    changed_accounts: dict[str, tuple[Account, str | None]] = field(default_factory=dict)
    new_invoices: list[Invoice] = field(default_factory=list)
    erp_times: dict[str, dt.datetime] = field(default_factory=dict)
    amendments: list[Amendment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Each event stays in the trace of the ERP message that caused it.
    traceparents: list[str | None] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        self.events.append(event)
        self.traceparents.append(traceparent_of(trace.get_current_span()))

    def keep_account(self, account: Account, fp: str | None, *, is_new: bool) -> None:
        assert account.external_id is not None
        self.accounts[account.external_id] = (account, fp)
        target = self.new_accounts if is_new else self.changed_accounts
        target[account.id] = (account, fp)
        self.publish(messages.account_registered(account))


class ErpIngest:
    """The batch handler of the erp-invoices consumer."""

    def __init__(self, *, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        batch = await self._load(session, envelopes)
        for envelope in envelopes:
            with processing_span(envelope):
                data = envelope.data
                if isinstance(data, InvoiceIssued):
                    self._invoice(batch, data, envelope.time)
                elif isinstance(data, AccountRegistered):
                    self._account(batch, data)
        await self._write(session, batch)

    async def _load(self, session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> _Batch:
        account_ids: set[str] = set()
        invoice_ids: set[str] = set()
        numbers: set[tuple[str, str]] = set()
        for envelope in envelopes:
            data = envelope.data
            account_ids.add(data.account_id)
            if isinstance(data, InvoiceIssued):
                invoice_ids.add(data.invoice_id)
            elif isinstance(data, AccountRegistered) and data.parent_account_id:
                account_ids.add(data.parent_account_id)
        accounts = await repository.accounts_by_external_id(
            session=session, external_ids=account_ids
        )
        for envelope in envelopes:
            data = envelope.data
            if isinstance(data, InvoiceIssued) and data.account_id in accounts:
                numbers.add((accounts[data.account_id][0].id, data.invoice_number))
        return _Batch(
            accounts=accounts,
            invoices=await repository.fingerprints_by_external_id(
                session=session, external_ids=invoice_ids
            ),
            taken_numbers=await repository.taken_invoice_numbers(session=session, numbers=numbers),
        )

    def _invoice(self, batch: _Batch, data: InvoiceIssued, erp_time: dt.datetime) -> None:
        fp = fingerprint(data)
        if data.invoice_id in batch.invoices:
            if batch.invoices[data.invoice_id] != fp:
                # A known invoice with new content is an amendment, applied after the inserts.
                batch.amendments.append(Amendment(data, erp_time, fp))
            return
        terms = (
            Terms(data.payment_terms.kind, data.payment_terms.days) if data.payment_terms else None
        )
        known = batch.accounts.get(data.account_id)
        if known is None:
            account = placeholder_account(
                account_id=new_id(),
                external_id=data.account_id,
                currency=data.currency,
                terms=terms,
            )
            batch.keep_account(account, None, is_new=True)
        else:
            account = known[0]
        if (account.id, data.invoice_number) in batch.taken_numbers:
            raise RejectEvent(
                f"invoice number {data.invoice_number!r} already exists on account"
                f" {data.account_id} under another ERP invoice id"
            )
        # The ERP's printed amounts are the legal record, so they are kept, not re-priced.
        lines = [
            Line(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                net_minor=to_minor(line.net_amount, data.currency),
                tax_minor=to_minor(line.tax_amount, data.currency),
            )
            for line in data.lines
        ]
        try:
            invoice = issue_invoice(
                invoice_id=new_id(),
                account=account,
                invoice_number=data.invoice_number,
                currency=data.currency,
                issue_date=data.issue_date,
                due_date=data.due_date,
                terms=terms,
                lines=lines,
                early_payment_discount=_discount(data),
                purchase_order=data.purchase_order,
                external_id=data.invoice_id,
                source="erp",
                source_fingerprint=fp,
            )
        except DomainError as exc:
            raise RejectEvent(exc.message) from exc
        batch.invoices[data.invoice_id] = fp
        batch.erp_times[invoice.id] = erp_time
        batch.taken_numbers.add((account.id, data.invoice_number))
        batch.new_invoices.append(invoice)
        batch.publish(messages.invoice_issued(invoice, account))

    def _account(self, batch: _Batch, data: AccountRegistered) -> None:
        fp = fingerprint(data)
        known = batch.accounts.get(data.account_id)
        if known is not None and known[1] == fp:
            return  # the same master data again
        if known is not None and known[0].currency != data.currency:
            raise RejectEvent(
                f"account {data.account_id} is kept in {known[0].currency};"
                f" its currency cannot change to {data.currency}"
            )
        # A parent the ERP has not sent yet stays unlinked until the child is re-registered.
        parent = batch.accounts.get(data.parent_account_id) if data.parent_account_id else None
        account = Account(
            id=known[0].id if known else new_id(),
            external_id=data.account_id,
            name=data.name,
            legal_name=data.legal_name,
            currency=data.currency,
            country=data.country,
            time_zone=data.time_zone,
            locale=data.locale,
            terms=Terms(data.payment_terms.kind, data.payment_terms.days),
            credit_limit_minor=(
                to_minor(data.credit_limit, data.currency)
                if data.credit_limit is not None
                else None
            ),
            tags=tuple(data.tags),
            parent_account_id=parent[0].id if parent else None,
            dunning_policy=data.dunning_policy,
            contacts=tuple(data.contacts),
        )
        is_new = known is None or account.id in batch.new_accounts
        batch.keep_account(account, fp, is_new=is_new)

    async def _write(self, session: AsyncSession, batch: _Batch) -> None:
        now: dt.datetime = self._clock.now()
        await repository.add_accounts(
            session=session, accounts=list(batch.new_accounts.values()), now=now
        )
        await repository.replace_accounts(
            session=session, accounts=list(batch.changed_accounts.values()), now=now
        )
        stored = await repository.insert_new_invoices(
            session=session, invoices=batch.new_invoices, now=now, erp_times=batch.erp_times
        )
        await self._outbox.add_many(
            session, batch.events, occurred_at=now, traceparents=batch.traceparents
        )
        await invoices_became_known(
            session=session,
            outbox=self._outbox,
            invoices=[i for i in batch.new_invoices if stored[i.id].has_holds],
            now=now,
        )
        await apply_amendments(
            session=session, outbox=self._outbox, amendments=batch.amendments, now=now
        )


def _discount(data: InvoiceIssued) -> EarlyPaymentDiscount | None:
    d = data.early_payment_discount
    return EarlyPaymentDiscount(percent=d.percent, days=d.days) if d else None
