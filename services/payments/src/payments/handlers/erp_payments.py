"""ERP payments: source ids resolved, re-sends dropped, payments for unknown accounts held."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event, PaymentReceived, to_minor
from payments.db import AccountRow
from payments.domain.allocation import AllocationRule
from payments.domain.errors import DomainError, DuplicatePayment
from payments.handlers.payments import RecordPayment, record
from payments.metrics import held_payments_rejected
from payments.repository import ledger as ledger_repo
from payments.repository import payments as payment_repo
from payments.repository import pending as pending_repo

log = logging.getLogger(__name__)


def source_id(payment: PaymentReceived) -> str:
    """The source's own id of a payment: its external id, else its payment id."""
    return payment.external_id or payment.payment_id


def command_of(payment: PaymentReceived, account_id: str) -> RecordPayment:
    """The RecordPayment an ERP payment asks for, on the Dunlin account."""
    currency = payment.currency
    return RecordPayment(
        account_id=account_id,
        amount_minor=to_minor(payment.amount, currency),
        currency=currency,
        method=payment.method,
        received_on=payment.received_on,
        source="erp",
        reference=payment.reference,
        remittance=tuple(
            (line.invoice_id, to_minor(line.amount, currency)) for line in payment.remittance
        ),
        external_id=source_id(payment),
    )


@dataclass(frozen=True)
class ErpBatch:
    """What a batch of ERP payments resolves up front: accounts (locked) and known source ids."""

    accounts_by_erp: dict[str, str]
    accounts: dict[str, AccountRow]
    seen: set[str]


async def open_batch(*, session: AsyncSession, payments: Sequence[PaymentReceived]) -> ErpBatch:
    """Resolve and lock the batch's accounts; collect the source ids recorded or held."""
    erp_ids = {p.account_id for p in payments}
    by_erp = await ledger_repo.accounts_by_external_id(session=session, external_ids=erp_ids)
    unknown = erp_ids - by_erp.keys()
    if unknown:
        # Advisory locks before row locks, in the order the release takes them (no deadlock);
        # then look again: the account may have been registered while we waited.
        await pending_repo.lock_erp_accounts(session=session, erp_account_ids=unknown)
        by_erp |= await ledger_repo.accounts_by_external_id(session=session, external_ids=unknown)
    accounts = await ledger_repo.lock_accounts(session=session, account_ids=set(by_erp.values()))
    source_ids = {source_id(p) for p in payments}
    seen = set(
        await payment_repo.payment_ids_by_external_id(session=session, external_ids=source_ids)
    )
    seen |= await pending_repo.held_source_ids(session=session, source_ids=source_ids - seen)
    return ErpBatch(accounts_by_erp=by_erp, accounts=accounts, seen=seen)


async def receive(
    *,
    session: AsyncSession,
    batch: ErpBatch,
    payment: PaymentReceived,
    event_id: str,
    traceparent: str | None,
    default_rule: AllocationRule,
    now: dt.datetime,
) -> list[Event]:
    """Record an ERP payment, or hold it while its account is unknown; a re-send is a no-op."""
    source = source_id(payment)
    if source in batch.seen:
        return []
    account_id = batch.accounts_by_erp.get(payment.account_id)
    if account_id is None:
        # Topics are unordered: the account is most likely still on its way on invoicing.events.
        command_of(payment, "")  # refuse amounts the currency cannot hold now, not at release
        await pending_repo.hold(
            session=session,
            source_id=source,
            erp_account_id=payment.account_id,
            event_id=event_id,
            payload=payment.model_dump(mode="json"),
            traceparent=traceparent,
            now=now,
        )
        events: list[Event] = []
    else:
        _, events = await record(
            session=session,
            account=batch.accounts[account_id],
            command=command_of(payment, account_id),
            default_rule=default_rule,
            now=now,
        )
    batch.seen.add(source)
    return events


async def release_held(
    *, session: AsyncSession, account: AccountRow, default_rule: AllocationRule, now: dt.datetime
) -> list[tuple[Event, str | None]]:
    """Record what waited for this (locked) account, in arrival order; events with their trace."""
    if account.external_id is None:
        return []
    released: list[tuple[Event, str | None]] = []
    for row in await pending_repo.waiting_for(
        session=session, erp_account_ids=[account.external_id]
    ):
        payment = PaymentReceived.model_validate(row.payload)
        try:
            # record() refuses before it writes anything, so a refusal leaves no trace to undo.
            recorded, events = await record(
                session=session,
                account=account,
                command=command_of(payment, account.id),
                default_rule=default_rule,
                now=now,
            )
        except DuplicatePayment:
            # Recorded through another channel (REST) meanwhile: the same payment, nothing to do.
            existing = await payment_repo.payment_ids_by_external_id(
                session=session, external_ids=[row.source_id]
            )
            row.status, row.payment_id = "recorded", existing.get(row.source_id)
        except DomainError as exc:
            log.warning("held payment %s refused: %s", row.source_id, exc.message)
            held_payments_rejected.add(1)
            row.status, row.error = "rejected", exc.message[:500]
        else:
            row.status, row.payment_id = "recorded", recorded.id
            released += [(event, row.traceparent) for event in events]
        row.resolved_at = now
    return released
