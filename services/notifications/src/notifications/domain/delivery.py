"""What happens to a delivery after an attempt: retry, fall back, or give up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    """Try the same channel again at `at`."""

    at: dt.datetime


@dataclass(frozen=True)
class Fallback:
    """This channel failed for good; try `channel` (index `index`) next."""

    channel: str
    index: int


@dataclass(frozen=True)
class GiveUp:
    """Every channel failed: the notification failed."""


Next = Retry | Fallback | GiveUp


def backoff(attempt: int, *, base_s: float, max_s: float) -> dt.timedelta:
    """Delay before retry number `attempt` (1-based): base, 2x base, 4x base ... capped."""
    return dt.timedelta(seconds=min(base_s * 2 ** max(attempt - 1, 0), max_s))


def after_hard_failure(channels: Sequence[str], index: int) -> Fallback | GiveUp:
    """The next channel in the request's list, if one is left."""
    if index + 1 < len(channels):
        return Fallback(channels[index + 1], index + 1)
    return GiveUp()


def after_transient_failure(
    *,
    channels: Sequence[str],
    index: int,
    attempt: int,
    max_attempts: int,
    now: dt.datetime,
    base_s: float,
    max_s: float,
) -> Next:
    """Retry with backoff until the attempts run out, then fall back like a hard failure."""
    if attempt < max_attempts:
        return Retry(now + backoff(attempt, base_s=base_s, max_s=max_s))
    return after_hard_failure(channels, index)
