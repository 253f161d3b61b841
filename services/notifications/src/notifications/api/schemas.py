"""Request and response bodies of the API (never the event models)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

TemplateChannel = Literal["email", "sms", "letter", "voice"]


class AttemptPublic(BaseModel):
    """One try on one channel."""

    channel: str
    number: int
    status: str
    provider: str | None
    provider_message_id: str | None
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class DocumentPublic(BaseModel):
    """An archived PDF; download it from `url`."""

    id: str
    kind: str
    filename: str
    url: str


class ActionPublic(BaseModel):
    """An operator's decision on the delivery."""

    action: str = Field(description="`resend` or `close`")
    outcome: str | None = Field(description="For `close`: `sent` or `failed`")
    actor: str = Field(description="Name of the API key that decided")
    reason: str
    created_at: dt.datetime


class ReviewResend(BaseModel):
    """Send a delivery held for review again."""

    reason: str = Field(min_length=1, max_length=2000, description="Why (kept for audit)")


class ReviewClose(BaseModel):
    """Settle a delivery held for review without sending it again."""

    reason: str = Field(min_length=1, max_length=2000, description="Why (kept for audit)")
    outcome: Literal["sent", "failed"] = Field(
        description="`sent`: it did leave (NotificationSent); `failed`: it did not"
    )
    fallback: bool = Field(
        default=False, description="With `failed`: try the request's next channel"
    )


class DeliveryPublic(BaseModel):
    """What we sent (or tried to send) for one notification, and whether it arrived."""

    id: str
    notification_id: str
    account_id: str
    case_id: str | None
    step_key: str
    template_key: str
    locale: str
    channels: list[str]
    channel: str
    status: str
    failure_reason: str | None
    detail: str | None
    provider: str | None
    provider_message_id: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    attempts: list[AttemptPublic] = Field(default_factory=list)
    documents: list[DocumentPublic] = Field(default_factory=list)
    actions: list[ActionPublic] = Field(default_factory=list)


class TemplateCreate(BaseModel):
    """A new version of a template."""

    source: str = Field(min_length=1, max_length=100_000, description="Jinja2 with blocks")


class TemplateVersionPublic(BaseModel):
    """One saved version."""

    template_key: str
    channel: str
    locale: str
    version: int
    source: str
    created_by: str
    created_at: dt.datetime


class TemplatePublic(BaseModel):
    """The template in use and its saved versions (none: the shipped one is used)."""

    template_key: str
    channel: str
    locale: str
    origin: str = Field(description="`shipped` or `v<N>`")
    source: str
    versions: list[TemplateVersionPublic]


class PreviewRequest(BaseModel):
    """Render a template (saved, shipped, or the source given) for a given request."""

    template_key: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")
    channel: TemplateChannel
    locale: str = Field(default="en", max_length=35)
    source: str | None = Field(default=None, max_length=100_000, description="Unsaved source")
    data: dict[str, Any] | None = Field(
        default=None, description="NotificationRequested fields to override the sample's"
    )


class PreviewPublic(BaseModel):
    """The rendered blocks (subject, text, html, body, closing as the channel has them)."""

    origin: str
    parts: dict[str, str]
