"""What invoicing told us about accounts: tags and contact consents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.db import AccountPrefsRow
from notifications.repository.shapes import one_of


async def save(
    *,
    session: AsyncSession,
    account_id: str,
    tags: list[str],
    consents: dict[str, dict[str, bool]],
    now: dt.datetime,
) -> None:
    """Upsert the account's tags and consents (the latest registration wins)."""
    values = {"account_id": account_id, "tags": tags, "consents": consents, "updated_at": now}
    statement = insert(AccountPrefsRow).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={"tags": tags, "consents": consents, "updated_at": now},
    )
    await session.execute(statement)


async def load(
    *, session: AsyncSession, account_ids: Collection[str]
) -> dict[str, AccountPrefsRow]:
    """Preferences of these accounts, where known."""
    if not account_ids:
        return {}
    query = select(AccountPrefsRow).where(one_of(AccountPrefsRow.account_id, account_ids))
    return {row.account_id: row for row in (await session.scalars(query)).all()}
