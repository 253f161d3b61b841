"""Account groups: locking one account for a change, its ancestors, children and balances."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import String, TextClause, bindparam, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.db import AccountRow, InvoiceRow
from invoicing.domain import Account
from invoicing.repository.accounts import _account_values, _stored_account
from invoicing.repository.common import Stored

# Changes of the hierarchy are serialised, so two concurrent ones cannot close a cycle that
# neither sees alone (A under B while B goes under A).
_HIERARCHY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('invoicing.account_hierarchy'))")

# UNION (not UNION ALL) ends the walk even if the ERP ever sent a cycle.
_ANCESTORS = text(
    """
    WITH RECURSIVE up(id, parent) AS (
        SELECT id, parent_account_id FROM invoicing.accounts WHERE id = :id
        UNION
        SELECT a.id, a.parent_account_id FROM invoicing.accounts a JOIN up ON a.id = up.parent
    )
    SELECT id FROM up
    """
).bindparams(bindparam("id", type_=String))

_GROUP = """
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM invoicing.accounts WHERE id = :id
        UNION
        SELECT a.id FROM invoicing.accounts a JOIN tree ON a.parent_account_id = tree.id
    )
"""
_ALONE = "WITH tree(id) AS (SELECT CAST(:id AS varchar))"
_INVOICE_SUMS = """
    SELECT i.currency,
        coalesce(sum(i.balance_minor) FILTER (WHERE i.status IN ('open', 'partially_paid')), 0),
        coalesce(sum(i.balance_minor) FILTER (
            WHERE i.status IN ('open', 'partially_paid') AND i.due_date < :today), 0),
        coalesce(sum(i.disputed_minor) FILTER (WHERE i.status IN ('open', 'partially_paid')), 0),
        count(*) FILTER (WHERE i.status IN ('open', 'partially_paid')),
        count(*) FILTER (
            WHERE i.status IN ('open', 'partially_paid') AND i.due_date < :today
            AND i.balance_minor > 0),
        count(*)
    FROM invoicing.invoices i WHERE i.account_id IN (SELECT id FROM tree)
    GROUP BY i.currency
"""
_CREDIT_SUMS = """
    SELECT o.currency, sum(o.amount_minor - o.reversed_minor)
    FROM invoicing.overpayments o WHERE o.account_id IN (SELECT id FROM tree)
    GROUP BY o.currency
"""

_COUNT = "SELECT count(*) FROM tree"


def _statements(tree: str) -> tuple[TextClause, TextClause, TextClause]:
    return tuple(  # type: ignore[return-value]
        text(tree + part).bindparams(bindparam("id", type_=String))
        for part in (_INVOICE_SUMS, _CREDIT_SUMS, _COUNT)
    )


_STATEMENTS = {True: _statements(_GROUP), False: _statements(_ALONE)}


async def lock_account(*, session: AsyncSession, account_id: str) -> Stored[Account] | None:
    """One account, locked FOR UPDATE until the transaction ends (issuers share-lock it)."""
    row = await session.scalar(
        select(AccountRow).where(AccountRow.id == account_id).with_for_update()
    )
    return _stored_account(row) if row is not None else None


async def has_invoices(*, session: AsyncSession, account_id: str) -> bool:
    """Whether any invoice was issued to the account."""
    return bool(await session.scalar(select(exists().where(InvoiceRow.account_id == account_id))))


async def ancestors(*, session: AsyncSession, account_id: str) -> set[str]:
    """The account and every account above it, under the hierarchy lock."""
    await session.execute(_HIERARCHY_LOCK)
    return {row[0] for row in await session.execute(_ANCESTORS, {"id": account_id})}


async def update_account(*, session: AsyncSession, account: Account, now: dt.datetime) -> None:
    """Store an account's new master data (the ERP fingerprint stays what the ERP last sent)."""
    values = _account_values(account, fingerprint=None)
    del values["id"], values["source_fingerprint"]
    await session.execute(
        update(AccountRow).where(AccountRow.id == account.id).values(**values, updated_at=now)
    )


async def list_children(
    *, session: AsyncSession, parent_id: str, after_seq: int | None, limit: int
) -> list[Stored[Account]]:
    """The accounts directly under one account, in creation order."""
    query = (
        select(AccountRow)
        .where(AccountRow.parent_account_id == parent_id)
        .order_by(AccountRow.seq)
        .limit(limit)
    )
    if after_seq is not None:
        query = query.where(AccountRow.seq > after_seq)
    return [_stored_account(row) for row in await session.scalars(query)]


@dataclass
class CurrencyBalance:
    """Sums over an account (or group) in one currency; minor units."""

    currency: str
    open_minor: int = 0
    overdue_minor: int = 0
    disputed_minor: int = 0
    unapplied_credit_minor: int = 0
    open_invoices: int = 0
    overdue_invoices: int = 0
    invoices: int = 0


@dataclass
class GroupBalance:
    """Balances per currency, never summed across currencies."""

    accounts: int
    currencies: dict[str, CurrencyBalance] = field(default_factory=dict)


async def balances(
    *, session: AsyncSession, account_id: str, include_children: bool, today: dt.date
) -> GroupBalance:
    """An account's balances, alone or rolled up over all its descendants (two queries)."""
    invoice_sums, credit_sums, count = _STATEMENTS[include_children]
    per_currency: dict[str, CurrencyBalance] = {}
    rows = await session.execute(invoice_sums, {"id": account_id, "today": today})
    for currency, open_, overdue, disputed, n_open, n_overdue, n_all in rows:
        per_currency[currency] = CurrencyBalance(
            currency, int(open_), int(overdue), int(disputed), 0, n_open, n_overdue, n_all
        )
    for currency, credit in await session.execute(credit_sums, {"id": account_id}):
        balance = per_currency.setdefault(currency, CurrencyBalance(currency))
        balance.unapplied_credit_minor = int(credit)
    accounts = int((await session.execute(count, {"id": account_id})).scalar_one())
    return GroupBalance(accounts=accounts, currencies=dict(sorted(per_currency.items())))
