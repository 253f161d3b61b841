"""Deterministic ids, so that re-running a step never produces a second message."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1d3c7e-0d5b-4e0e-9a55-3a2f4f3d9b11")


def stable_id(*parts: object) -> str:
    """A UUIDv5 of the parts."""
    return str(uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts)))


def case_id(account_id: str, cycle: int) -> str:
    """The id of an account's n-th dunning case."""
    return stable_id("case", account_id, cycle)
