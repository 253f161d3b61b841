"""Persistence of accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, String, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import Contact
from invoicing.db import AccountRow
from invoicing.domain import Account, Terms
from invoicing.repository.common import Stored


def _account_values(account: Account, *, fingerprint: str | None) -> dict[str, Any]:
    return {
        "id": account.id,
        "external_id": account.external_id,
        "name": account.name,
        "legal_name": account.legal_name,
        "currency": account.currency,
        "country": account.country,
        "time_zone": account.time_zone,
        "locale": account.locale,
        "terms_kind": account.terms.kind,
        "terms_days": account.terms.days,
        "credit_limit_minor": account.credit_limit_minor,
        "tags": list(account.tags),
        "parent_account_id": account.parent_account_id,
        "dunning_policy": account.dunning_policy,
        "contacts": [c.model_dump(mode="json") for c in account.contacts],
        "source_fingerprint": fingerprint,
    }


# Hot reads select the table's columns (Core rows): no ORM objects, no identity map.
_ACCOUNTS = AccountRow.__table__


# Built once: one array parameter, whatever the number of accounts.
_SHARE_LOCK = (
    select(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == any_(bindparam("ids", type_=ARRAY(String))))
    .order_by(_ACCOUNTS.c.id)
    .with_for_update(read=True)
)

# Like _SHARE_LOCK, one array parameter: one cached statement instead of an IN list of N.
_BY_EXTERNAL_ID = select(_ACCOUNTS).where(
    _ACCOUNTS.c.external_id == any_(bindparam("external_ids", type_=ARRAY(String)))
)


def _account(row: AccountRow | Row[Any]) -> Account:
    return Account(
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        legal_name=row.legal_name,
        currency=row.currency,
        country=row.country,
        time_zone=row.time_zone,
        locale=row.locale,
        terms=Terms(kind="net" if row.terms_kind == "net" else "end_of_month", days=row.terms_days),
        credit_limit_minor=row.credit_limit_minor,
        tags=tuple(row.tags),
        parent_account_id=row.parent_account_id,
        dunning_policy=row.dunning_policy,
        contacts=tuple(Contact.model_validate(c) for c in row.contacts),
    )


def _stored_account(row: AccountRow) -> Stored[Account]:
    return Stored(item=_account(row), seq=row.seq, created_at=row.created_at)


async def add_account(
    *, session: AsyncSession, account: Account, now: dt.datetime, fingerprint: str | None = None
) -> Stored[Account] | None:
    """Insert an account; None when its external id is already taken (race-free)."""
    values = {**_account_values(account, fingerprint=fingerprint), "created_at": now}
    row = (
        await session.execute(
            pg_insert(AccountRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=[AccountRow.external_id])
            .returning(AccountRow)
        )
    ).scalar_one_or_none()
    return _stored_account(row) if row is not None else None


async def add_accounts(
    *, session: AsyncSession, accounts: Sequence[tuple[Account, str | None]], now: dt.datetime
) -> None:
    """Insert many (account, fingerprint) pairs in one statement."""
    if accounts:
        rows = [{**_account_values(a, fingerprint=f), "created_at": now} for a, f in accounts]
        await session.execute(insert(AccountRow), rows)


async def replace_accounts(
    *, session: AsyncSession, accounts: Sequence[tuple[Account, str | None]], now: dt.datetime
) -> None:
    """Overwrite the master data of many (account, fingerprint) pairs in one statement.

    The ERP re-registered them; an UPDATE by primary key, executed for all rows at once.
    """
    if accounts:
        rows = [{**_account_values(a, fingerprint=f), "updated_at": now} for a, f in accounts]
        await session.execute(update(AccountRow), rows)


async def get_account(*, session: AsyncSession, account_id: str) -> Stored[Account] | None:
    """One account by Dunlin id."""
    row = await session.get(AccountRow, account_id)
    return _stored_account(row) if row is not None else None


async def share_lock_accounts(
    *, session: AsyncSession, account_ids: Collection[str]
) -> dict[str, Account]:
    """Accounts by Dunlin id, locked FOR SHARE (in id order) until the transaction ends.

    Invoices issued under the lock see the account's current currency and terms, and a
    concurrent change of the account waits for them (and then sees them).
    """
    if not account_ids:
        return {}
    rows = await session.execute(_SHARE_LOCK, {"ids": sorted(account_ids)})
    return {row.id: _account(row) for row in rows}


async def accounts_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, tuple[Account, str | None]]:
    """Accounts (with their source fingerprint) keyed by external id, in one query."""
    if not external_ids:
        return {}
    rows = await session.execute(_BY_EXTERNAL_ID, {"external_ids": list(external_ids)})
    return {
        row.external_id: (_account(row), row.source_fingerprint) for row in rows if row.external_id
    }


async def list_accounts(
    *, session: AsyncSession, after_seq: int | None, limit: int
) -> list[Stored[Account]]:
    """Accounts in creation order, limit rows after the given key."""
    query = select(AccountRow).order_by(AccountRow.seq).limit(limit)
    if after_seq is not None:
        query = query.where(AccountRow.seq > after_seq)
    return [_stored_account(row) for row in await session.scalars(query)]
