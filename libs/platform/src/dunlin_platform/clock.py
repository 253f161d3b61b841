"""The one clock every time-driven rule reads, so tests and demos can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward and return the new now."""
        if delta < timedelta(0):
            raise ValueError("time never runs backwards")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to a moment that is not in the past."""
        moment = _aware_utc(moment)
        if moment < self._now:
            raise ValueError("time never runs backwards")
        self._now = moment


def _aware_utc(moment: datetime) -> datetime:
    # astimezone() would read a naive datetime as the machine's local time.
    if moment.tzinfo is None:
        raise ValueError("ManualClock needs an aware datetime")
    return moment.astimezone(UTC)
