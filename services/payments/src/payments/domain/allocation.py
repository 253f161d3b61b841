"""Allocation rules: how an amount is spread over open balances (pure arithmetic)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dunlin_events import split

AllocationRule = Literal["oldest_due_first", "largest_first", "proportional"]
ALLOCATION_RULES: tuple[AllocationRule, ...] = ("oldest_due_first", "largest_first", "proportional")


@dataclass(frozen=True, slots=True)
class Open:
    """An invoice's open balance as the rules see it."""

    invoice_id: str
    due_date: dt.date
    seq: int
    balance_minor: int


def spread(amount_minor: int, items: Sequence[Open], rule: AllocationRule) -> list[tuple[str, int]]:
    """Spread up to `amount_minor` over the balances; no share ever exceeds its balance."""
    candidates = [item for item in items if item.balance_minor > 0]
    if amount_minor <= 0 or not candidates:
        return []
    if rule == "proportional":
        return _proportional(amount_minor, sorted(candidates, key=_by_due))
    key = _by_due if rule == "oldest_due_first" else _by_size
    shares: list[tuple[str, int]] = []
    left = amount_minor
    for item in sorted(candidates, key=key):
        take = min(left, item.balance_minor)
        shares.append((item.invoice_id, take))
        left -= take
        if left == 0:
            break
    return shares


def _proportional(amount_minor: int, items: Sequence[Open]) -> list[tuple[str, int]]:
    balances = [item.balance_minor for item in items]
    # Below the sum, every largest-remainder share stays within its own balance.
    parts = balances if amount_minor >= sum(balances) else split(amount_minor, balances)
    return [(item.invoice_id, part) for item, part in zip(items, parts, strict=True) if part > 0]


def _by_due(item: Open) -> tuple[dt.date, int, str]:
    return (item.due_date, item.seq, item.invoice_id)


def _by_size(item: Open) -> tuple[int, dt.date, int, str]:
    return (-item.balance_minor, item.due_date, item.seq, item.invoice_id)
