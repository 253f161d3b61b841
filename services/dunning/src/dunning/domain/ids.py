"""Deterministic ids, so that re-running a step never produces a second message."""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache

_NAMESPACE = uuid.UUID("6f1d3c7e-0d5b-4e0e-9a55-3a2f4f3d9b11")
_SEED = hashlib.sha1(_NAMESPACE.bytes, usedforsecurity=False)


def stable_id(*parts: object) -> str:
    """A UUIDv5 of the parts: `str(uuid.uuid5(_NAMESPACE, "a:b:c"))`, without the UUID object."""
    sha = _SEED.copy()
    sha.update(":".join(map(str, parts)).encode())
    raw = bytearray(sha.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=4096)  # asked for several times while one case is advanced
def case_id(account_id: str, cycle: int) -> str:
    """The id of an account's n-th dunning case."""
    return stable_id("case", account_id, cycle)
