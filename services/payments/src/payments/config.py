"""Settings of the payments service, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dunlin_events import topics
from dunlin_platform.config import ServiceSettings
from payments.domain.allocation import AllocationRule


class PaymentsSettings(ServiceSettings):
    """Payments configuration; everything else comes from the platform base."""

    service_name: str = "payments"
    http_port: int = Field(default=8002, ge=1, le=65535)
    invoicing_events_topic: str = Field(
        default=topics.INVOICING_EVENTS, description="Invoices and accounts (the read model)."
    )
    erp_payments_topic: str = Field(
        default=topics.ERP_PAYMENTS, description="Inbound payments keyed by the source's ids."
    )
    default_allocation_rule: AllocationRule = Field(
        default="oldest_due_first", description="Rule for accounts without their own."
    )
    plan_grace_days: int = Field(
        default=0, ge=0, le=90, description="Days after an installment's due date before missed."
    )
    plan_sweep_interval_s: float = Field(default=60.0, gt=0)
    plan_sweep_batch_size: int = Field(default=500, ge=1, le=10_000)
    pending_gauge_interval_s: float = Field(
        default=15.0, gt=0, description="How often held ERP payments are counted for /metrics."
    )


@lru_cache
def get_settings() -> PaymentsSettings:
    """The process's settings, read once."""
    return PaymentsSettings()
