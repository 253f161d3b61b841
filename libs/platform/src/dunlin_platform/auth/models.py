"""API key storage (schema `auth`) and the principal a verified key stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, func
from sqlalchemy.dialects.postgresql import ARRAY

AUTH_SCHEMA = "auth"

metadata = MetaData(schema=AUTH_SCHEMA)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)

# `*`, `admin`, `invoices:read`, `invoices:*`
SCOPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_-]*(:([a-z][a-z0-9_-]*|\*))?)$")


def validate_scope(scope: str) -> str:
    """Return the scope if well-formed, else raise ValueError."""
    if not SCOPE_PATTERN.fullmatch(scope):
        raise ValueError(
            f"invalid scope {scope!r}: use '*', 'name', 'resource:action' or 'resource:*'"
        )
    return scope


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the API key and what it may do."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """Whether the key grants the scope (`*` grants all, `res:*` grants res's actions)."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        resource, sep, _ = scope.partition(":")
        return bool(sep) and f"{resource}:*" in self.scopes


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored; never carries the secret."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None

    def status(self, now: datetime) -> str:
        """`active`, `revoked` or `expired` at the given time."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
