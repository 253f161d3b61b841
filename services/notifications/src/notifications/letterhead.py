"""The creditor printed at the top of every letter, apart from the heavy PDF code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Letterhead:
    """The creditor printed at the top of every letter."""

    name: str
    address: Sequence[str]
