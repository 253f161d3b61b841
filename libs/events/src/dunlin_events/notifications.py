"""Events published by the notifications service on `notifications.events`.

Each says where one requested notification (by `notification_id`) stands: handed to a
provider, delivered, or failed (with the fallback channel tried next, if any).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dunlin_events.base import Event, UtcDatetime
from dunlin_events.dunning import Channel, StepKey
from dunlin_events.parts import Id


class _Outcome(Event):
    """Fields every delivery outcome carries, to correlate it with the request."""

    producer: ClassVar[str] = "notifications"

    notification_id: Id = Field(description="The NotificationRequested id")
    case_id: Id | None = Field(default=None, description="Dunning case id, if any")
    step_key: StepKey | None = Field(default=None, description="Dunning step, if any")
    channel: Channel = Field(description="Channel of this attempt")
    contact_id: Id | None = Field(default=None, description="Contact addressed")
    attempt: int = Field(default=1, ge=1, description="Attempt number of this channel")


class NotificationSent(_Outcome):
    """The message was handed to its provider (SMTP server, SMS/print/agency API)."""

    event_name: ClassVar[str] = "NotificationSent"
    version: ClassVar[int] = 1

    provider: str = Field(min_length=1, max_length=100, description="Adapter that sent it")
    provider_message_id: str | None = Field(default=None, max_length=500)
    sent_at: UtcDatetime


class NotificationDelivered(_Outcome):
    """The provider confirmed delivery (or acknowledgement, for the agency)."""

    event_name: ClassVar[str] = "NotificationDelivered"
    version: ClassVar[int] = 1

    provider: str = Field(min_length=1, max_length=100)
    delivered_at: UtcDatetime


FailureReason = Literal[
    "unknown_template",
    "template_error",
    "missing_address",
    "no_consent",
    "do_not_contact",
    "bounced",
    "rejected",
    "provider_error",
    "frequency_limit",
    "expired",
]


class NotificationFailed(_Outcome):
    """This channel failed for good; `fallback_channel` is tried next when there is one."""

    event_name: ClassVar[str] = "NotificationFailed"
    version: ClassVar[int] = 1

    reason: FailureReason = Field(description="Machine-readable reason")
    detail: str | None = Field(default=None, max_length=2000, description="Human-readable")
    fallback_channel: Channel | None = Field(
        default=None, description="Channel tried next; none means the notification failed"
    )
    failed_at: UtcDatetime


__all__ = ["FailureReason", "NotificationDelivered", "NotificationFailed", "NotificationSent"]
