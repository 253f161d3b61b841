"""What every repository returns besides the domain object itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """A domain object with what storage adds: its order key and creation time."""

    item: T
    seq: int
    created_at: dt.datetime
