"""Building outgoing events and their parts without validating them a second time.

The sweep builds three or more events per case from values that are already valid: amounts
come from `from_minor` in the account's currency, ids from validated facts, times are UTC.
Re-running every validator costs more than the rest of the step, so `build` constructs the
model directly. Tests switch on `STRICT`: every event is then also validated and must
serialise exactly as the one built without validation, so the fast path cannot drift.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

STRICT = False


def build(cls: type[M], **fields: Any) -> M:
    """`cls(**fields)` without re-validation (validated and compared when STRICT)."""
    built = cls.model_construct(**fields)
    if STRICT:
        checked = cls(**fields)
        if checked.model_dump_json() != built.model_dump_json():
            raise AssertionError(f"{cls.__name__} differs when validated:\n{checked!r}")
    return built
