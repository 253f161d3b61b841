"""Persistence of payments."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payments.db import PaymentRow

EXTERNAL_ID_TAKEN = "uq_payments_external_id"


async def add_payment(*, session: AsyncSession, payment: PaymentRow) -> PaymentRow:
    """Insert a payment and return it with its sequence number.

    With an external id the insert runs in a savepoint: a twin committed meanwhile (another
    account's request, the other channel) fails only the insert, not the whole transaction.
    """
    if payment.external_id is None:
        session.add(payment)
        await session.flush()
        return payment
    async with session.begin_nested():
        session.add(payment)
        await session.flush()
    return payment


async def get_payment(
    *, session: AsyncSession, payment_id: str, for_update: bool = False
) -> PaymentRow | None:
    """One payment by Dunlin id."""
    query = select(PaymentRow).where(PaymentRow.id == payment_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def owners_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, tuple[str, str]]:
    """(Dunlin payment id, Dunlin account id) by the source's ids."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(PaymentRow.external_id, PaymentRow.id, PaymentRow.account_id).where(
            PaymentRow.external_id.in_(list(external_ids))
        )
    )
    return {external: (payment_id, account) for external, payment_id, account in rows if external}


async def payments_by_id(
    *, session: AsyncSession, payment_ids: Collection[str]
) -> dict[str, PaymentRow]:
    """Payments by Dunlin id."""
    if not payment_ids:
        return {}
    rows = await session.scalars(select(PaymentRow).where(PaymentRow.id.in_(list(payment_ids))))
    return {row.id: row for row in rows}


async def list_payments(
    *, session: AsyncSession, account_id: str | None, after_seq: int | None, limit: int
) -> Sequence[PaymentRow]:
    """Payments in arrival order, optionally of one account."""
    query = select(PaymentRow).order_by(PaymentRow.seq).limit(limit)
    if account_id is not None:
        query = query.where(PaymentRow.account_id == account_id)
    if after_seq is not None:
        query = query.where(PaymentRow.seq > after_seq)
    return (await session.scalars(query)).all()
