"""Notifications' own instruments, beside the platform's."""

from __future__ import annotations

from collections.abc import Iterable

from dunlin_platform.telemetry import meter

_m = meter()

# Exported as dunlin_notifications_deliveries_total{channel, status} (the dashboards' name).
delivery_outcomes = _m.create_counter(
    "dunlin_notifications_deliveries",
    unit="1",
    description="Delivery attempts by channel and status: sent, failed, interrupted, review"
    " (worker); delivered, bounced, failed (provider callbacks)",
)
STATUSES = ("sent", "failed", "interrupted", "review", "delivered", "bounced")


def start_counting(channels: Iterable[str]) -> None:
    """Every channel x status series at 0, so dashboards and rate() see them before traffic."""
    for channel in channels:
        for status in STATUSES:
            delivery_outcomes.add(0, {"channel": channel, "status": status})


callbacks = _m.create_counter(
    "dunlin_notifications_callbacks",
    unit="1",
    description="Provider callbacks by channel and outcome (accepted, bad_signature, stale,"
    " unknown)",
)
