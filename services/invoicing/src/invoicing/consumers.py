"""Kafka subscriptions of the invoicing service."""

from __future__ import annotations

from dunlin_platform.clock import Clock
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ConsumerSpec
from invoicing.config import InvoicingSettings
from invoicing.ingest import ErpIngest


def consumer_specs(
    *, settings: InvoicingSettings, outbox: Outbox, clock: Clock
) -> list[ConsumerSpec]:
    """ERP invoices and account master data; payments join with the ledger."""
    return [
        ConsumerSpec(
            "erp-invoices",
            [settings.erp_invoices_topic],
            ErpIngest(outbox=outbox, clock=clock),
        )
    ]
