"""Deterministic ids, so that re-running a step never produces a second message."""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache

_NAMESPACE = uuid.UUID("6f1d3c7e-0d5b-4e0e-9a55-3a2f4f3d9b11")
_SEED = hashlib.sha1(_NAMESPACE.bytes, usedforsecurity=False)


# The hex digit of the RFC 4122 variant (`10xx`) that keeps the low two bits of a digit.
_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def stable_id(*parts: object) -> str:
    """A UUIDv5 of the parts: `str(uuid.uuid5(_NAMESPACE, "a:b:c"))`, without the UUID object.

    The hot paths give `uuid5` the name as an f-string of their str and int parts instead.
    """
    return uuid5(":".join(map(str, parts)))


def uuid5(name: str) -> str:
    """`str(uuid.uuid5(_NAMESPACE, name))`: the first 16 bytes of the SHA-1, in hex, with the
    version digit (13th) set to 5 and the variant bits in the 17th digit."""
    sha = _SEED.copy()
    sha.update(name.encode())
    h = sha.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


@lru_cache(maxsize=4096)  # asked for several times while one case is advanced
def case_id(account_id: str, cycle: int) -> str:
    """The id of an account's n-th dunning case."""
    return uuid5(f"case:{account_id}:{cycle}")
