"""Settings of the notifications service, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr

from dunlin_events import topics
from dunlin_platform.config import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Notifications configuration; everything else comes from the platform base."""

    service_name: str = "notifications"
    http_port: int = Field(default=8005, ge=1, le=65535)
    public_base_url: str = Field(
        default="http://127.0.0.1:8005", description="Base URL providers call back on."
    )
    callback_tolerance_s: float = Field(
        default=300.0,
        gt=0,
        description="Signed callbacks whose X-Dunlin-Timestamp is further from our clock are"
        " refused (replays).",
    )
    dunning_events_topic: str = Field(default=topics.DUNNING_EVENTS)
    invoicing_events_topic: str = Field(default=topics.INVOICING_EVENTS)

    # Delivery worker
    worker_interval_s: float = Field(default=0.5, gt=0, description="Idle poll of due rows.")
    worker_batch_size: int = Field(default=200, ge=1, le=5_000)
    worker_lanes: int = Field(
        default=2, ge=1, le=16, description="Rounds in flight: one claims while others send"
    )
    max_attempts: int = Field(default=5, ge=1, le=50, description="Per channel, transient.")
    retry_base_s: float = Field(default=30.0, gt=0, description="First retry delay; doubles.")
    retry_max_s: float = Field(default=3600.0, gt=0)
    sending_lease_s: float = Field(
        default=300.0, gt=0, description="A 'sending' attempt older than this was interrupted."
    )

    pdf_workers: int = Field(
        default=2, ge=0, le=32, description="Processes rendering PDFs (0: a thread of the service)"
    )

    # Contact rules (the last line; dunning applies them first)
    quiet_hours_start: int = Field(default=20, ge=0, le=23, description="Local hour, inclusive.")
    quiet_hours_end: int = Field(default=8, ge=0, le=23, description="Local hour; = start: off.")
    quiet_hours_channels: list[str] = Field(default=["email", "sms", "voice"])
    max_per_account: int = Field(default=3, ge=1, description="Messages per account per window.")
    frequency_window_h: float = Field(default=24.0, gt=0)
    do_not_contact_tags: list[str] = Field(default=["do_not_contact", "legal", "litigation"])

    # Creditor (letterhead, e-mail sender)
    creditor_name: str = "Dunlin Demo GmbH"
    creditor_address: list[str] = Field(default=["Musterstraße 1", "10115 Berlin", "Germany"])
    email_from: str = "Dunlin Demo GmbH <billing@dunlin.example>"
    email_attach_statement_steps: list[str] = Field(
        default=["reminder", "firm_reminder", "demand", "final_notice"]
    )

    # SMTP
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_pool_size: int = Field(
        default=16, ge=1, le=64, description="Open SMTP connections (sends in parallel)"
    )
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    email_webhook_secret: SecretStr = SecretStr("dev-email-webhook-secret")

    # SMS and voice (Twilio-compatible REST)
    sms_api_url: str | None = Field(default=None, description="e.g. .../2010-04-01/Accounts/AC1")
    sms_account_sid: str = "AC_dev"
    sms_auth_token: SecretStr = SecretStr("dev-sms-auth-token")
    sms_from: str = "+15005550006"
    voice_api_url: str | None = None

    # Letters
    letters_dir: Path = Field(default=Path(".dunlin/letters"), description="Without a print API.")
    print_api_url: str | None = None
    print_api_key: SecretStr = SecretStr("dev-print-key")
    print_webhook_secret: SecretStr = SecretStr("dev-print-webhook-secret")

    # Agency hand-off
    agency_api_url: str | None = None
    agency_secret: SecretStr = SecretStr("dev-agency-secret")

    provider_timeout_s: float = Field(default=10.0, gt=0)


@lru_cache
def get_settings() -> NotificationsSettings:
    """The process's settings, read once."""
    return NotificationsSettings()
