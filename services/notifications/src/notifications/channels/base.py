"""The adapter interface and what flows through it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dunlin_events import NotificationRequested
from dunlin_events.notifications import FailureReason
from notifications.templates.engine import Rendered


@dataclass(frozen=True)
class Attachment:
    """A file sent along (the statement PDF) or posted (the letter)."""

    filename: str
    content: bytes
    mime: str = "application/pdf"


@dataclass(frozen=True)
class Outgoing:
    """A message ready for its channel: rendered, with documents, and its idempotency key."""

    delivery_id: str
    channel: str
    idempotency_key: str
    request: NotificationRequested
    rendered: Rendered | None
    attachments: Sequence[Attachment] = field(default_factory=tuple)


@dataclass(frozen=True)
class Receipt:
    """What the provider answered; `delivered` when the answer already confirms receipt."""

    provider: str
    message_id: str | None
    delivered: bool = False


class TransientFailure(Exception):
    """The provider could not take it now; retrying later may work."""


class UnconfirmedFailure(Exception):
    """The message may have left (the connection broke after it was handed over) and the
    provider cannot dedupe a resend: hold it for review rather than risk sending it twice."""


class PermanentFailure(Exception):
    """The provider refused it for good: fall back to the next channel."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: FailureReason = reason
        self.detail = detail


class ChannelAdapter(Protocol):
    """Hands one message to one provider."""

    @property
    def provider(self) -> str:
        """Name of the provider, recorded on the delivery."""
        ...

    @property
    def idempotent(self) -> bool:
        """Whether resending with the same idempotency key cannot deliver twice."""
        ...

    async def send(self, message: Outgoing) -> Receipt:
        """Send it; raise TransientFailure or PermanentFailure when it does not go."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
