"""Payments' own instruments, beside the platform's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Observation

from dunlin_platform.telemetry import meter

_m = meter()


class HeldPayments:
    """What the last count of held ERP payments found, for the observable gauges."""

    def __init__(self) -> None:
        self.waiting: int | None = None
        self.oldest_at: dt.datetime | None = None
        self.counted_at: dt.datetime | None = None

    def set(self, *, waiting: int, oldest_at: dt.datetime | None, now: dt.datetime) -> None:
        self.waiting, self.oldest_at, self.counted_at = waiting, oldest_at, now

    def observe_waiting(self, _: CallbackOptions) -> Iterable[Observation]:
        return [] if self.waiting is None else [Observation(self.waiting)]

    def observe_oldest_age(self, _: CallbackOptions) -> Iterable[Observation]:
        if self.counted_at is None:
            return []
        age = (self.counted_at - self.oldest_at).total_seconds() if self.oldest_at else 0.0
        return [Observation(max(age, 0.0))]


held_payments = HeldPayments()

_m.create_observable_gauge(
    "dunlin_payments_pending",
    callbacks=[held_payments.observe_waiting],
    unit="1",
    description="ERP payments held until invoicing registers their account",
)
_m.create_observable_gauge(
    "dunlin_payments_pending_oldest_age",
    callbacks=[held_payments.observe_oldest_age],
    unit="s",
    description="How long the oldest held ERP payment has waited",
)
held_payments_rejected = _m.create_counter(
    "dunlin_payments_pending_rejected",
    unit="1",
    description="Held ERP payments refused once their account was known (currency mismatch)",
)
