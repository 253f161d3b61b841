"""Record and reverse payments: the ledger moves and its events are staged in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event, from_minor
from payments import messages
from payments.db import AccountRow, PaymentRow
from payments.domain.allocation import AllocationRule
from payments.domain.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    DomainError,
    DuplicatePayment,
    UnknownAccount,
)
from payments.domain.ledger import receive, reverse
from payments.handlers import ledger as steps
from payments.handlers import new_id, plans
from payments.repository import ledger as ledger_repo
from payments.repository import payments as repo


@dataclass(frozen=True, slots=True)
class RecordPayment:
    """Record money received from a customer (Dunlin account id, amounts in minor units)."""

    account_id: str
    amount_minor: int
    currency: str
    method: str
    received_on: dt.date
    source: str = "api"
    reference: str | None = None
    remittance: tuple[tuple[str, int], ...] = ()
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReversePayment:
    """Undo a payment that bounced, was charged back or recalled."""

    payment_id: str
    reason: str
    reversed_on: dt.date
    source_id: str | None = None  # the source's return id when an ERP reported it


async def record(
    *,
    session: AsyncSession,
    account: AccountRow | None,
    command: RecordPayment,
    default_rule: AllocationRule,
    now: dt.datetime,
) -> tuple[PaymentRow, list[Event]]:
    """Store a payment, allocate it, and return it with the events to stage."""
    if account is None:
        raise UnknownAccount(f"account {command.account_id} is not known", field="account_id")
    if command.currency != account.currency:
        raise CurrencyMismatch(
            f"currency mismatch: the payment is in {command.currency}, account"
            f" {command.account_id} is kept in {account.currency}",
            field="currency",
        )
    if command.external_id is not None and await repo.owners_by_external_id(
        session=session, external_ids=[command.external_id]
    ):
        raise _duplicate(command.external_id)
    ledger = await steps.open_ledger(
        session=session,
        account=account,
        default_rule=default_rule,
        references=[reference for reference, _ in command.remittance],
    )
    payment = await _insert(
        session=session,
        payment=PaymentRow(
            id=new_id(),
            account_id=account.id,
            external_id=command.external_id,
            source=command.source,
            amount_minor=command.amount_minor,
            currency=command.currency,
            method=command.method,
            received_on=command.received_on,
            reference=command.reference,
            remittance=[
                {"invoice_id": ref, "amount": str(from_minor(amount, command.currency))}
                for ref, amount in command.remittance
            ],
            credit_minor=0,
            earmarks={},
            earmarked_minor=0,
            status="received",
            created_at=now,
        ),
    )
    receipt = receive(
        ledger,
        payment_id=payment.id,
        seq=payment.seq,
        amount_minor=command.amount_minor,
        remittance=command.remittance,
    )
    payment.credit_minor = receipt.credit.general_minor
    payment.earmarks = dict(receipt.credit.earmarks)
    payment.earmarked_minor = sum(receipt.credit.earmarks.values())
    await ledger_repo.add_allocations(
        session=session,
        payment_id=payment.id,
        allocations=receipt.allocations,
        kind="receipt",
        now=now,
    )
    await steps.close(session=session, ledger=ledger, payment_ids=[payment.id])
    events: list[Event] = [messages.payment_received(payment, receipt.allocations)]
    events += await plans.count_payment(
        session=session,
        payment_id=payment.id,
        received_on=payment.received_on,
        allocations=receipt.allocations,
    )
    return payment, events


def _duplicate(external_id: str) -> DuplicatePayment:
    return DuplicatePayment(
        f"a payment with external_id {external_id!r} already exists", field="external_id"
    )


async def _insert(*, session: AsyncSession, payment: PaymentRow) -> PaymentRow:
    """Insert the payment; a twin with its external id committed meanwhile is a duplicate."""
    try:
        return await repo.add_payment(session=session, payment=payment)
    except IntegrityError as exc:
        if payment.external_id is None or repo.EXTERNAL_ID_TAKEN not in str(exc.orig):
            raise
        raise _duplicate(payment.external_id) from exc


async def reverse_payment(
    *,
    session: AsyncSession,
    command: ReversePayment,
    default_rule: AllocationRule,
    now: dt.datetime,
) -> tuple[PaymentRow, list[Event]] | None:
    """Reverse a payment; None when it does not exist."""
    found = await repo.get_payment(session=session, payment_id=command.payment_id)
    if found is None:
        return None
    accounts = await ledger_repo.lock_accounts(session=session, account_ids=[found.account_id])
    payment = await repo.get_payment(
        session=session, payment_id=command.payment_id, for_update=True
    )
    assert payment is not None
    if payment.status == "reversed":
        raise AlreadyReversed(f"payment {payment.id} was already reversed on {payment.reversed_on}")
    if command.reversed_on < payment.received_on:
        raise DomainError(
            f"payment {payment.id} was received on {payment.received_on}; it cannot be reversed"
            f" on {command.reversed_on}, before it arrived",
            field="reversed_on",
        )
    ledger = await steps.open_ledger(
        session=session, account=accounts[payment.account_id], default_rule=default_rule
    )
    undone = (await ledger_repo.live_allocations(session=session, payment_ids=[payment.id]))[
        payment.id
    ]
    await ledger_repo.load_invoices(
        session=session, ledger=ledger, invoice_ids=[invoice_id for invoice_id, _ in undone]
    )
    unapplied = payment.credit_minor + payment.earmarked_minor
    later = reverse(ledger, payment_id=payment.id, allocations=undone)
    await ledger_repo.reverse_allocations(session=session, payment_id=payment.id, now=now)
    await plans.uncount_payment(session=session, payment_id=payment.id)
    payment.status = "reversed"
    payment.credit_minor, payment.earmarks, payment.earmarked_minor = 0, {}, 0
    payment.reversal_id = new_id()
    payment.reversal_reason = command.reason
    payment.reversed_on = command.reversed_on
    payment.reversal_source_id = command.source_id
    await steps.close(session=session, ledger=ledger, payment_ids=[payment.id])
    events: list[Event] = [messages.payment_reversed(payment, undone, unapplied)]
    events += await steps.record_credit_steps(session=session, steps=later, now=now)
    return payment, events
