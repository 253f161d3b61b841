"""Kafka subscriptions of the invoicing service."""

from __future__ import annotations

from dunlin_platform.clock import Clock
from dunlin_platform.outbox import Outbox
from dunlin_platform.runtime import ConsumerSpec
from invoicing.config import InvoicingSettings
from invoicing.ingest import ErpIngest

ERP_LANES = 3
"""Partition lanes of the erp-invoices consumer (CONSUMER_LANES overrides it).

An ERP batch waits mostly on the database (lookups, inserts, the commit's flush): with its
partitions in three lanes, three batches are in the database at once. Everything a batch
writes is keyed by account, and an account's messages share a partition, hence a lane.
"""


def consumer_specs(
    *, settings: InvoicingSettings, outbox: Outbox, clock: Clock
) -> list[ConsumerSpec]:
    """ERP invoices and account master data; payments join with the ledger."""
    return [
        ConsumerSpec(
            "erp-invoices",
            [settings.erp_invoices_topic],
            ErpIngest(outbox=outbox, clock=clock),
            lanes=ERP_LANES,
        )
    ]
