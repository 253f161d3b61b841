"""`Idempotency-Key` for POST (IETF draft-ietf-httpapi-idempotency-key-header semantics).

Two halves, because neither alone can do the job: the `idempotent` dependency runs after
`authenticate` (so keys are scoped per principal) and claims, rejects or replays; the
`IdempotencyMiddleware` sees the finished response (including problem responses made by
exception handlers) and stores it, or releases the claim on a 5xx or a crash.
The app must provide `app.state.sessionmaker` and `app.state.idempotency_table`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dunlin_platform.auth.deps import authenticate
from dunlin_platform.http.problems import ConflictError, UnprocessableError

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
LOCK_TIMEOUT = timedelta(seconds=60)
_CLAIM_STATE = "idempotency_claim"
# Recomputed on replay; the rest (content-type, location, ...) is replayed verbatim.
_UNSTORED_HEADERS = {b"content-length", b"date", b"server"}


def idempotency_table(metadata: MetaData, *, name: str = "idempotency_keys") -> Table:
    """Add the idempotency key table to a service's metadata (in its schema)."""
    return Table(
        name,
        metadata,
        Column("principal", String(64), primary_key=True),  # the API key id
        Column("key", String(255), primary_key=True),
        Column("method", String(10), nullable=False),
        Column("path", Text, nullable=False),
        Column("request_fingerprint", String(64), nullable=False),  # sha256: body, query
        Column("status", Integer),  # null while the first request is in flight
        Column("response_body", LargeBinary),
        Column("response_headers", JSONB),
        # Claim time: reset when a stale claim is taken over, so it doubles as the lock age.
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("completed_at", DateTime(timezone=True)),
        Index(f"ix_{name}_created_at", "created_at"),
    )


@dataclass(slots=True)
class _Claim:
    principal: str
    key: str
    claimed_at: datetime
    """The claim's `created_at`, the token that proves it is still ours: renewed while the
    request runs (see `_keep_alive`), replaced by a takeover."""
    table: Table
    sessionmaker: async_sessionmaker[AsyncSession]
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    keeper: asyncio.Task[None] | None = None

    def keep_alive(self, lock_timeout: timedelta) -> None:
        """Renew the claim while the request runs, so that it never looks stale."""
        self.keeper = asyncio.ensure_future(_keep_alive(self, lock_timeout.total_seconds() / 3))

    async def let_go(self) -> None:
        """Stop renewing (a renewal in progress completes, so `claimed_at` is current)."""
        self.finished.set()
        if self.keeper is not None:
            await self.keeper


async def _keep_alive(claim: _Claim, every_s: float) -> None:
    """Move the claim's `created_at` forward every `every_s` until the request is finished.

    A claim older than the lock timeout is taken over by a retry, which is right for a
    request whose process died, and wrong for one still running (a slow request, lock
    waits under load): both would apply the effect. Renewed at a third of the timeout, a
    live request's claim is never stale.
    """
    t = claim.table
    while not claim.finished.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(claim.finished.wait(), every_s)
        if claim.finished.is_set():
            return
        try:
            async with claim.sessionmaker() as session, session.begin():
                renewed = (
                    await session.execute(
                        update(t)
                        .where(t.c.principal == claim.principal, t.c.key == claim.key)
                        .where(t.c.created_at == claim.claimed_at, t.c.status.is_(None))
                        .values(created_at=func.now())
                        .returning(t.c.created_at)
                    )
                ).scalar_one_or_none()
        except Exception as exc:  # the next renewal may succeed; the claim is kept meanwhile
            log.warning(
                "could not renew the claim of %s %r: %s", IDEMPOTENCY_HEADER, claim.key, exc
            )
            continue
        if renewed is None:
            return  # taken over (the process stalled longer than the timeout) or released
        claim.claimed_at = renewed


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with a stored response."""

    def __init__(self, status: int, body: bytes, headers: list[list[str]]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


async def _claim_or_replay(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    table: Table,
    principal: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    lock_timeout: timedelta,
) -> _Claim:
    identity = (table.c.principal == principal) & (table.c.key == key)
    for _ in range(3):  # a released claim can vanish between our insert and select
        async with sessionmaker() as session, session.begin():
            claimed_at = (
                await session.execute(
                    pg_insert(table)
                    .values(
                        principal=principal,
                        key=key,
                        method=method,
                        path=path,
                        request_fingerprint=fingerprint,
                    )
                    .on_conflict_do_nothing()
                    .returning(table.c.created_at)
                )
            ).scalar_one_or_none()
            if claimed_at is not None:
                return _Claim(principal, key, claimed_at, table, sessionmaker)
            row = (
                await session.execute(
                    select(table, (table.c.created_at < func.now() - lock_timeout).label("stale"))
                    .where(identity)
                    .with_for_update()
                )
            ).one_or_none()
            if row is None:
                continue
            if (row.request_fingerprint, row.method, row.path) != (fingerprint, method, path):
                raise UnprocessableError(
                    f"{IDEMPOTENCY_HEADER} {key!r} was already used with a different request.",
                    slug="idempotency-key-reused",
                )
            if row.status is not None:
                raise IdempotentReplay(row.status, row.response_body or b"", row.response_headers)
            if not row.stale:
                raise ConflictError(
                    f"A request with {IDEMPOTENCY_HEADER} {key!r} is still being processed.",
                    slug="idempotency-key-in-flight",
                    headers={"Retry-After": "1"},
                )
            claimed_at = (
                await session.execute(
                    update(table)
                    .where(identity)
                    .values(created_at=func.now())
                    .returning(table.c.created_at)
                )
            ).scalar_one()
            return _Claim(principal, key, claimed_at, table, sessionmaker)
    raise ConflictError(f"{IDEMPOTENCY_HEADER} {key!r} is contended; retry.")


def _fingerprint(body: bytes, query: bytes) -> str:
    """sha256 of the body, then of the query string when there is one.

    Without a query this is the plain body digest that keys stored before the query
    counted still hold, so a retry across an upgrade is still recognised.
    """
    digest = hashlib.sha256(body)
    if query:
        digest.update(b"\n?" + query)
    return digest.hexdigest()


async def idempotent(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=255,
            description="Makes a retried POST safe: the first response is replayed.",
        ),
    ] = None,
) -> None:
    """Claim the request's Idempotency-Key, or replay/refuse a repeat (409, 422)."""
    if idempotency_key is None or request.method not in ("POST", "PATCH"):
        return
    # Called rather than declared (see require_scopes): keys are scoped per principal.
    principal = await authenticate(request)
    table: Table = request.app.state.idempotency_table
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    lock_timeout = getattr(request.app.state, "idempotency_lock_timeout", LOCK_TIMEOUT)
    claim = await _claim_or_replay(
        sessionmaker=sessionmaker,
        table=table,
        principal=principal.key_id,
        key=idempotency_key,
        method=request.method,
        path=request.url.path,
        fingerprint=_fingerprint(await request.body(), request.scope.get("query_string", b"")),
        lock_timeout=lock_timeout,
    )
    claim.keep_alive(lock_timeout)
    setattr(request.state, _CLAIM_STATE, claim)


IdempotencyDep = Depends(idempotent)


async def _store(claim: _Claim, status: int, body: bytes, headers: list[list[str]]) -> None:
    t = claim.table
    async with claim.sessionmaker() as session, session.begin():
        await session.execute(
            update(t)
            .where(t.c.principal == claim.principal, t.c.key == claim.key)
            .where(t.c.created_at == claim.claimed_at)  # a takeover owns the key now
            .values(
                status=status, response_body=body, response_headers=headers, completed_at=func.now()
            )
        )


async def _release(claim: _Claim) -> None:
    t = claim.table
    async with claim.sessionmaker() as session, session.begin():
        await session.execute(
            delete(t).where(
                t.c.principal == claim.principal,
                t.c.key == claim.key,
                t.c.created_at == claim.claimed_at,
                t.c.status.is_(None),
            )
        )


class IdempotencyMiddleware:
    """Stores the response of a claimed request before sending it; releases on 5xx/crash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        start: Message | None = None
        chunks: list[bytes] = []
        done = False

        async def capture(message: Message) -> None:
            nonlocal start, done
            claim: _Claim | None = state.get(_CLAIM_STATE)
            if claim is None or done:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = b"".join(chunks)
            status: int = start["status"]
            await claim.let_go()
            if status >= 500:
                await _release(claim)  # the client may retry a server failure
            else:
                headers = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in start.get("headers", [])
                    if k.lower() not in _UNSTORED_HEADERS
                ]
                await _store(claim, status, body, headers)
            done = True
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            claim = state.get(_CLAIM_STATE)
            if claim is not None and not done:
                await claim.let_go()
                await _release(claim)
            raise


async def _on_replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    response = Response(content=exc.body, status_code=exc.status)
    for name, value in exc.headers:
        response.headers.append(name, value)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def install_idempotency(app: FastAPI, *, lock_timeout: timedelta = LOCK_TIMEOUT) -> None:
    """Add the middleware and replay handler; routes opt in with `dependencies=[IdempotencyDep]`."""
    app.state.idempotency_lock_timeout = lock_timeout
    app.add_middleware(IdempotencyMiddleware)
    app.add_exception_handler(IdempotentReplay, _on_replay)


async def purge_idempotency_keys(
    *, session: AsyncSession, table: Table, older_than: timedelta
) -> int:
    """Delete completed keys older than the retention window; returns how many."""
    result = await session.execute(
        delete(table).where(
            table.c.status.is_not(None), table.c.created_at < func.now() - older_than
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
