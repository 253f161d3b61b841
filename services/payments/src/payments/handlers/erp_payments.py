"""ERP payments: source ids resolved, re-sends dropped, payments for unknown accounts held.

Returns (`PaymentReturned`: a bounce, chargeback or recall the source reports) reverse the
payment they name through the same code as `POST /payments/{id}/reverse`; a return for a
payment still held waits on the held payment and is applied right after it is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event, PaymentReceived, PaymentReturned, to_minor
from payments.db import AccountRow, PaymentRow
from payments.domain.allocation import AllocationRule
from payments.domain.errors import DomainError, DuplicatePayment
from payments.handlers.payments import RecordPayment, ReversePayment, record, reverse_payment
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


class UnknownPayment(DomainError):
    """A return names a payment the source never sent (or sent under another id)."""


@dataclass(frozen=True)
class ErpBatch:
    """What a batch of ERP messages resolves up front: accounts (locked) and known source ids.

    `recorded` maps the payment source ids recorded to their Dunlin payment and account ids,
    `held` those waiting for their account to the ERP account id they were sent for. A source
    id seen before is a re-send (dropped) on the same account, a conflict on another.
    """

    accounts_by_erp: dict[str, str]
    accounts: dict[str, AccountRow]
    recorded: dict[str, tuple[str, str]]
    held: dict[str, str]


async def open_batch(
    *,
    session: AsyncSession,
    payments: Sequence[PaymentReceived],
    returns: Sequence[PaymentReturned] = (),
) -> ErpBatch:
    """Resolve and lock the batch's accounts; collect the source ids recorded or held."""
    erp_ids = {p.account_id for p in payments} | {r.account_id for r in returns}
    by_erp = await ledger_repo.accounts_by_external_id(session=session, external_ids=erp_ids)
    unknown = erp_ids - by_erp.keys()
    if unknown:
        # Advisory locks before row locks, in the order the release takes them (no deadlock);
        # then look again: the account may have been registered while we waited.
        await pending_repo.lock_erp_accounts(session=session, erp_account_ids=unknown)
        by_erp |= await ledger_repo.accounts_by_external_id(session=session, external_ids=unknown)
    accounts = await ledger_repo.lock_accounts(session=session, account_ids=set(by_erp.values()))
    source_ids = {source_id(p) for p in payments} | {r.payment_id for r in returns}
    recorded = await payment_repo.owners_by_external_id(session=session, external_ids=source_ids)
    held = await pending_repo.held_source_ids(
        session=session, source_ids=source_ids - recorded.keys()
    )
    return ErpBatch(accounts_by_erp=by_erp, accounts=accounts, recorded=recorded, held=held)


def check_resent(batch: ErpBatch, payment: PaymentReceived) -> None:
    """A payment whose source id was seen before: a re-send on the same account is harmless,
    the id on another account is a conflict (not the same payment, and not to be dropped)."""
    source = source_id(payment)
    if source in batch.recorded:
        payment_id, owner = batch.recorded[source]
        if batch.accounts_by_erp.get(payment.account_id) == owner:
            return
        taken_by = f"payment {payment_id} of another account ({owner})"
    elif batch.held[source] != payment.account_id:
        taken_by = f"a payment held for another account (ERP account {batch.held[source]})"
    else:
        return
    raise DuplicatePayment(
        f"external_id {source!r} of ERP account {payment.account_id} is already used by {taken_by}",
        field="external_id",
    )


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
    """Record an ERP payment, or hold it while its account is unknown; a re-send is a no-op
    and a source id already used on another account is refused (dead-lettered)."""
    source = source_id(payment)
    if source in batch.recorded or source in batch.held:
        check_resent(batch, payment)
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
        batch.held[source] = payment.account_id
        events: list[Event] = []
    else:
        recorded, events = await record(
            session=session,
            account=batch.accounts[account_id],
            command=command_of(payment, account_id),
            default_rule=default_rule,
            now=now,
        )
        batch.recorded[source] = (recorded.id, account_id)
    return events


def check_return(returned: PaymentReturned, *, currency: str, amount_minor: int) -> None:
    """Refuse a return unless it gives back exactly the payment (currency and whole amount)."""
    if returned.currency != currency:
        raise DomainError(
            f"return {returned.return_id} is in {returned.currency}, payment"
            f" {returned.payment_id} in {currency}"
        )
    if to_minor(returned.amount, returned.currency) != amount_minor:
        raise DomainError(
            f"return {returned.return_id} of {returned.amount} {returned.currency} does not match"
            f" payment {returned.payment_id}: Dunlin reverses whole payments only (partial"
            " returns are not supported; record the payment again for what was kept)"
        )


async def return_payment(
    *,
    session: AsyncSession,
    batch: ErpBatch,
    returned: PaymentReturned,
    traceparent: str | None,
    default_rule: AllocationRule,
    now: dt.datetime,
) -> list[Event]:
    """Reverse the payment a return names. A repeated return, or one for a payment already
    reversed (e.g. by a collector through the API), changes nothing."""
    recorded = batch.recorded.get(returned.payment_id)
    if recorded is None:
        if returned.payment_id in batch.held:
            # Same topic and key as its payment, so it came after it: it waits with it.
            held = await pending_repo.held_payment(session=session, source_id=returned.payment_id)
            check_return(
                returned,
                currency=held.currency,
                amount_minor=to_minor(held.amount, held.currency),
            )
            await pending_repo.hold_return(
                session=session,
                source_id=returned.payment_id,
                payload=returned.model_dump(mode="json"),
                traceparent=traceparent,
            )
            return []
        raise UnknownPayment(
            f"return {returned.return_id} names payment {returned.payment_id}, which was never"
            " received (it is matched against the payment's external_id, else its payment_id)"
        )
    payment = await payment_repo.get_payment(session=session, payment_id=recorded[0])
    assert payment is not None
    if batch.accounts_by_erp.get(returned.account_id) != payment.account_id:
        raise DomainError(
            f"return {returned.return_id}: payment {returned.payment_id} belongs to another"
            f" account than {returned.account_id}"
        )
    return await _apply_return(
        session=session, returned=returned, payment=payment, default_rule=default_rule, now=now
    )


async def _apply_return(
    *,
    session: AsyncSession,
    returned: PaymentReturned,
    payment: PaymentRow,
    default_rule: AllocationRule,
    now: dt.datetime,
) -> list[Event]:
    check_return(returned, currency=payment.currency, amount_minor=payment.amount_minor)
    if payment.status == "reversed":
        log.info(
            "return %s: payment %s was already reversed (%s)",
            returned.return_id,
            payment.id,
            payment.reversal_source_id or "through the API",
        )
        return []
    command = ReversePayment(
        payment_id=payment.id,
        reason=returned.reason,
        reversed_on=returned.returned_on,
        source_id=returned.return_id,
    )
    done = await reverse_payment(
        session=session, command=command, default_rule=default_rule, now=now
    )
    assert done is not None  # found in this transaction, under the account's lock
    return done[1]


async def release_held(
    *, session: AsyncSession, account: AccountRow, default_rule: AllocationRule, now: dt.datetime
) -> list[tuple[Event, str | None]]:
    """Record what waited for this (locked) account, in arrival order; events with their trace.

    A return that waited with its payment is applied right after the payment is recorded.
    """
    if account.external_id is None:
        return []
    released: list[tuple[Event, str | None]] = []
    for row in await pending_repo.waiting_for(
        session=session, erp_account_ids=[account.external_id]
    ):
        payment = PaymentReceived.model_validate(row.payload)
        recorded: PaymentRow | None = None
        try:
            # record() refuses before it writes anything, so a refusal leaves no trace to undo.
            recorded, events = await record(
                session=session,
                account=account,
                command=command_of(payment, account.id),
                default_rule=default_rule,
                now=now,
            )
        except DuplicatePayment as exc:
            existing = await payment_repo.owners_by_external_id(
                session=session, external_ids=[row.source_id]
            )
            payment_id, owner = existing.get(row.source_id, (None, None))
            if owner is not None and owner != account.id:
                # Another account's payment took the id meanwhile: a conflict, not this payment.
                message = f"{exc.message}, by payment {payment_id} of another account ({owner})"
                log.warning("held payment %s refused: %s", row.source_id, message)
                held_payments_rejected.add(1)
                row.status, row.error = "rejected", message[:500]
            else:
                # Recorded through another channel (REST) meanwhile: the same payment.
                row.status, row.payment_id = "recorded", payment_id
                if payment_id is not None:
                    recorded = await payment_repo.get_payment(
                        session=session, payment_id=payment_id
                    )
        except DomainError as exc:
            log.warning("held payment %s refused: %s", row.source_id, exc.message)
            held_payments_rejected.add(1)
            row.status, row.error = "rejected", exc.message[:500]
        else:
            row.status, row.payment_id = "recorded", recorded.id
            released += [(event, row.traceparent) for event in events]
        if recorded is not None and row.return_payload is not None:
            returned = PaymentReturned.model_validate(row.return_payload)
            try:
                reversal = await _apply_return(
                    session=session,
                    returned=returned,
                    payment=recorded,
                    default_rule=default_rule,
                    now=now,
                )
            except DomainError as exc:
                # Checked against the held payment when it came; only a REST twin can differ.
                log.warning("held return %s refused: %s", returned.return_id, exc.message)
                row.error = exc.message[:500]
            else:
                released += [(event, row.return_traceparent) for event in reversal]
        row.resolved_at = now
    return released
