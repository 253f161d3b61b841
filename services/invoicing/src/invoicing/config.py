"""Settings of the invoicing service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_events import topics
from dunlin_platform.config import ServiceSettings


class InvoicingSettings(ServiceSettings):
    """Invoicing configuration; everything else comes from the platform base."""

    service_name: str = "invoicing"
    http_port: int = Field(default=8001, ge=1, le=65535)
    erp_invoices_topic: str = Field(
        default=topics.ERP_INVOICES,
        description="Inbound ERP invoices and account master data (tests use their own topic).",
    )
    payments_events_topic: str = Field(
        default=topics.PAYMENTS_EVENTS,
        description="Payments' facts applied to the ledger (tests use their own topic).",
    )
    overdue_sweep_interval_s: float = Field(
        default=60.0, ge=0, description="Seconds between overdue sweeps; 0 turns the loop off."
    )
    ar_metrics_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="Seconds between refreshes of the AR aging and DSO gauges; 0 turns it off.",
    )
    overdue_sweep_batch_size: int = Field(
        default=5000, ge=1, le=50_000, description="Invoices locked and announced per transaction."
    )
    overdue_sweep_workers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Concurrent sweep transactions (accounts split by hash).",
    )

    issue_batch_max: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Most POST /invoices requests written together in one transaction.",
    )
    issue_writers: int = Field(
        default=3,
        ge=1,
        le=16,
        description="POST /invoices transactions in flight at once (each holds a connection).",
    )


@lru_cache
def get_settings() -> InvoicingSettings:
    """The process's settings, read once."""
    return InvoicingSettings()
