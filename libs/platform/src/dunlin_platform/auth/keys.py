"""Create, list, revoke and verify API keys; only a hash of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.auth.models import ApiKeyRecord, Principal, api_keys, validate_scope

KEY_PREFIX = "dk"
ID_BYTES = 4  # 8 hex chars: an id to look the key up by, not a secret
ID_DRAWS = 8
SECRET_BYTES = 32  # 43 urlsafe chars, 256 bits: no need for a slow password hash


def hash_secret(secret: str) -> str:
    """Hex sha256 of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split `dk_<id>_<secret>` into (id, secret), or None if it is not shaped like a key."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != ID_BYTES * 2 or len(secret) < 32:
        return None
    return key_id, secret


def _record(row: Row[tuple[object, ...]]) -> ApiKeyRecord:
    m = row._mapping
    return ApiKeyRecord(
        id=m["id"],
        name=m["name"],
        prefix=m["prefix"],
        scopes=tuple(m["scopes"]),
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
        expires_at=m["expires_at"],
    )


_RECORD_COLUMNS = [c for c in api_keys.c if c.name != "secret_hash"]


async def create_api_key(
    *,
    session: AsyncSession,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKeyRecord, str]:
    """Create a key; returns its record and the plaintext, which is never retrievable again."""
    scope_list = sorted({validate_scope(s) for s in scopes})
    if not scope_list:
        raise ValueError("an API key needs at least one scope")
    if not name.strip():
        raise ValueError("an API key needs a name")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = {
        "name": name.strip(),
        "secret_hash": hash_secret(secret),
        "scopes": scope_list,
        "expires_at": expires_at,
    }
    for _ in range(ID_DRAWS):  # the id is short: one already taken is drawn again
        key_id = secrets.token_hex(ID_BYTES)
        row = (
            await session.execute(
                pg_insert(api_keys)
                .values(id=key_id, prefix=f"{KEY_PREFIX}_{key_id}", **key)
                .on_conflict_do_nothing()
                .returning(*_RECORD_COLUMNS)
            )
        ).one_or_none()
        if row is not None:
            return _record(row), f"{KEY_PREFIX}_{key_id}_{secret}"
    raise RuntimeError(f"no free API key id after {ID_DRAWS} draws")


async def list_api_keys(*, session: AsyncSession) -> list[ApiKeyRecord]:
    """All keys, oldest first, without secrets."""
    rows = await session.execute(
        select(*_RECORD_COLUMNS).order_by(api_keys.c.created_at, api_keys.c.id)
    )
    return [_record(row) for row in rows]


async def get_api_key(*, session: AsyncSession, key_id: str) -> ApiKeyRecord | None:
    """One key by id, or None."""
    row = (
        await session.execute(select(*_RECORD_COLUMNS).where(api_keys.c.id == key_id))
    ).one_or_none()
    return _record(row) if row is not None else None


async def revoke_api_key(
    *, session: AsyncSession, key_id: str, now: datetime | None = None
) -> ApiKeyRecord | None:
    """Revoke a key (idempotent: the first revocation time is kept); None if unknown."""
    await session.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return await get_api_key(session=session, key_id=key_id)


async def verify_api_key(
    *, session: AsyncSession, presented: str, now: datetime | None = None
) -> Principal | None:
    """Return the principal for a valid, unrevoked, unexpired key and stamp last_used_at."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = (
        await session.execute(
            select(
                api_keys.c.name,
                api_keys.c.secret_hash,
                api_keys.c.scopes,
                api_keys.c.revoked_at,
                api_keys.c.expires_at,
            ).where(api_keys.c.id == key_id)
        )
    ).one_or_none()
    if row is None:
        return None
    if not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
        return None
    now = now or datetime.now(UTC)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    await session.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
    return Principal(key_id=key_id, name=row.name, scopes=frozenset(row.scopes))
