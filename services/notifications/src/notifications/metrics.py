"""Notifications' own instruments, beside the platform's."""

from __future__ import annotations

from dunlin_platform.telemetry import meter

_m = meter()

delivery_outcomes = _m.create_counter(
    "dunlin_notifications_deliveries",
    unit="1",
    description="Delivery attempts by channel and status (sent, failed, interrupted, review)",
)
callbacks = _m.create_counter(
    "dunlin_notifications_callbacks",
    unit="1",
    description="Provider callbacks by channel and outcome (accepted, bad_signature, unknown)",
)
