"""FastAPI dependencies: authenticate an API key and require scopes."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.auth.keys import verify_api_key
from dunlin_platform.auth.models import Principal
from dunlin_platform.http.problems import ForbiddenError, UnauthorizedError

DEFAULT_TTL_SECONDS = 30.0
DEFAULT_MAX_ENTRIES = 10_000


class ApiKeyVerifier:
    """Verifies keys against the database, caching successes for `ttl` seconds.

    A revoked or expired key keeps working in this process for at most `ttl` seconds;
    in exchange a hot endpoint hits the database (and stamps last_used_at) once per
    key per ttl instead of on every request. Failures are never cached, so a new key
    works at once.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def verify(
        self, presented: str, *, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> Principal | None:
        """Return the principal for the key, from the cache when fresh."""
        # Cache by digest so plaintext keys never sit in memory longer than the request.
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.ttl:
            self._cache.move_to_end(digest)
            return cached[1]
        self._cache.pop(digest, None)
        async with sessionmaker() as session, session.begin():
            principal = await verify_api_key(session=session, presented=presented)
        if principal is not None and self.ttl > 0:
            self._cache[digest] = (now, principal)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return principal

    def clear(self) -> None:
        """Forget every cached key (e.g. right after a revocation in this process)."""
        self._cache.clear()


def _verifier(request: Request) -> ApiKeyVerifier:
    verifier = getattr(request.app.state, "api_key_verifier", None)
    if verifier is None:
        verifier = ApiKeyVerifier()
        request.app.state.api_key_verifier = verifier
    assert isinstance(verifier, ApiKeyVerifier)
    return verifier


def _presented_key(request: Request) -> str | None:
    """Bearer credentials, else X-API-Key (another scheme, a gateway's Basic say, is not ours)."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


async def authenticate(request: Request) -> Principal:
    """Resolve the caller from `Authorization: Bearer <key>` or `X-API-Key`; 401 otherwise."""
    existing = getattr(request.state, "principal", None)
    if isinstance(existing, Principal):
        return existing
    presented = _presented_key(request)
    if presented is None:
        raise UnauthorizedError("Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    principal = await _verifier(request).verify(presented, sessionmaker=sessionmaker)
    if principal is None:
        raise UnauthorizedError("The API key is invalid, revoked or expired.")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def scope_check(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """Authenticate and demand every scope (403 otherwise), as a plain `async (request)`.

    `require_scopes` declares it as a dependency; a direct route (`http.direct`) calls it.
    """

    # `authenticate` is called, not declared as a sub-dependency: FastAPI re-solves a
    # sub-dependency's own parameters at every use before its cache is consulted, and the
    # principal is memoised on the request anyway.
    async def check(request: Request) -> Principal:
        principal = await authenticate(request)
        missing = [scope for scope in scopes if not principal.has(scope)]
        if missing:
            raise ForbiddenError(
                f"The API key lacks the required scope(s): {', '.join(missing)}.",
                missing_scopes=missing,
            )
        return principal

    return check


def require_scopes(*scopes: str) -> Any:  # Any, like fastapi.Depends itself
    """A `Depends` that authenticates and demands every scope (403 otherwise).

    Use as `dependencies=[require_scopes("invoices:write")]` or
    `principal: Annotated[Principal, require_scopes("invoices:read")]`.
    """
    return Depends(scope_check(*scopes))
