"""Shared ledger steps: open an account's ledger, record what moved, count it for plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Event
from payments import messages
from payments.db import AccountRow
from payments.domain.allocation import AllocationRule
from payments.domain.ledger import Applied, Ledger
from payments.handlers import plans
from payments.repository import ledger as repo
from payments.repository import payments as payment_repo


def rule_of(account: AccountRow, default: AllocationRule) -> AllocationRule:
    """The account's own allocation rule, or the service default."""
    rule = account.allocation_rule or default
    return rule  # type: ignore[return-value]


async def open_ledger(
    *,
    session: AsyncSession,
    account: AccountRow,
    default_rule: AllocationRule,
    references: Collection[str] = (),
) -> Ledger:
    """Load the (already locked) account's ledger."""
    return await repo.load_ledger(
        session=session,
        account_id=account.id,
        rule=rule_of(account, default_rule),
        references=references,
    )


async def record_credit_steps(
    *, session: AsyncSession, steps: Sequence[Applied], now: dt.datetime
) -> list[Event]:
    """Store credit applications, publish PaymentAllocated, and count them for plans."""
    if not steps:
        return []
    payments = await payment_repo.payments_by_id(
        session=session, payment_ids=[s.payment_id for s in steps]
    )
    events: list[Event] = []
    for step in steps:
        payment = payments[step.payment_id]
        await repo.add_allocations(
            session=session,
            payment_id=step.payment_id,
            allocations=step.allocations,
            kind="credit",
            now=now,
        )
        events.append(messages.payment_allocated(payment, step.allocations, step.unapplied_minor))
        events += await plans.count_payment(
            session=session,
            payment_id=payment.id,
            received_on=payment.received_on,
            allocations=step.allocations,
        )
    return events


async def close(
    *, session: AsyncSession, ledger: Ledger, payment_ids: Collection[str] = ()
) -> None:
    """Write the ledger back."""
    await repo.save_ledger(session=session, ledger=ledger, payment_ids=payment_ids)
