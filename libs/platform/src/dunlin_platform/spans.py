"""Span attributes an operator can search by (TraceQL), taken from an event's ids only.

Only identifiers and codes are copied: never names, e-mail addresses, phone numbers or
postal addresses, so traces hold no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from dunlin_events import Event

_SEARCHABLE: Mapping[str, str] = {
    "invoice_id": "dunlin.invoice_id",
    "payment_id": "dunlin.payment_id",
    "dispute_id": "dunlin.dispute_id",
    "plan_id": "dunlin.plan_id",
    "case_id": "dunlin.case_id",
    "step_key": "dunlin.dunning_step",
    "channel": "dunlin.channel",
    "notification_id": "dunlin.notification_id",
    "promise_id": "dunlin.promise_id",
    "task_id": "dunlin.task_id",
    "tier": "dunlin.risk_tier",
}
MAX_INVOICE_IDS = 50
"""At most this many invoice ids go on a span (a step may concern hundreds)."""


def event_attributes(data: Event | Mapping[str, Any]) -> dict[str, AttributeValue]:
    """`dunlin.*` attributes for the ids an event carries (invoice, case, step, channel...)."""
    get = data.get if isinstance(data, Mapping) else lambda name: getattr(data, name, None)
    attributes: dict[str, AttributeValue] = {}
    for field, attribute in _SEARCHABLE.items():
        value = get(field)
        if isinstance(value, str):
            attributes[attribute] = value
    invoices = get("invoices")
    if isinstance(invoices, list) and invoices:
        ids = [_invoice_id(item) for item in invoices[:MAX_INVOICE_IDS]]
        attributes["dunlin.invoice_ids"] = [i for i in ids if i]
    return attributes


def _invoice_id(item: Any) -> str | None:
    value = (
        item.get("invoice_id") if isinstance(item, Mapping) else getattr(item, "invoice_id", None)
    )
    return value if isinstance(value, str) else None
