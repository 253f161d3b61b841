"""Telling transient infrastructure faults from bad input."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATEs that mean "try again": serialization failure, deadlock, shutdown, too many connections.
_TRANSIENT_SQLSTATES = {
    "40001",
    "40P01",
    "57P01",
    "57P02",
    "57P03",
    "53300",
    "08000",
    "08003",
    "08006",
}


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same work later can succeed (infrastructure, not input)."""
    if isinstance(exc, asyncio.CancelledError):
        return False
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or _is_connection_error(exc)
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return sqlstate_of(exc) in _TRANSIENT_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError):
        return False  # a parameter asyncpg refused to encode (its client-side DataError)
    if isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return sqlstate_of(exc) in _TRANSIENT_SQLSTATES
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def sqlstate_of(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a driver error, raw or wrapped by SQLAlchemy (else None)."""
    if isinstance(exc, DBAPIError):
        return _sqlstate(exc.orig)
    return _sqlstate(exc)


def _sqlstate(exc: object) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if code is None and exc is not None:
        code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return str(code) if code else None


def _is_connection_error(exc: KafkaError) -> bool:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError

    return isinstance(exc, (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError))


class Backoff:
    """Exponential backoff with a cap, reset after success."""

    def __init__(self, *, initial: float = 0.2, maximum: float = 30.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._initial
