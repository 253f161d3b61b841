"""Composition root: settings, clock and tables in; a runtime and its routers out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from dunlin_platform.clock import Clock, SystemClock
from dunlin_platform.runtime import ConsumerSpec, ServiceRuntime
from invoicing.api import routers
from invoicing.config import InvoicingSettings
from invoicing.consumers import consumer_specs
from invoicing.db import PLATFORM_TABLES
from invoicing.issuer import InvoiceIssuer, invoice_issuer
from invoicing.ledger.payments import PaymentsLedger
from invoicing.overdue import OverdueSweeper
from invoicing.reporting.gauges import add_gauge_loop


@dataclass(frozen=True)
class Service:
    """Everything the app needs; nothing here has connected yet."""

    runtime: ServiceRuntime
    routers: list[APIRouter]
    sweeper: OverdueSweeper
    issuer: InvoiceIssuer


def bootstrap(settings: InvoicingSettings, *, clock: Clock | None = None) -> Service:
    """Wire the invoicing service."""
    clock = clock or SystemClock()
    runtime = ServiceRuntime(settings, tables=PLATFORM_TABLES, clock=clock)
    # The runtime's own outbox wakes its relay right after each commit.
    for spec in consumer_specs(settings=settings, outbox=runtime.outbox, clock=clock):
        runtime.add_consumer(spec)
    runtime.add_consumer(
        ConsumerSpec(
            "payments",
            [settings.payments_events_topic],
            PaymentsLedger(outbox=runtime.outbox, clock=clock),
        )
    )
    add_gauge_loop(runtime, interval_s=settings.ar_metrics_interval_s)
    sweeper = OverdueSweeper(
        runtime,
        interval_s=settings.overdue_sweep_interval_s,
        batch_size=settings.overdue_sweep_batch_size,
        workers=settings.overdue_sweep_workers,
    )
    return Service(
        runtime=runtime,
        routers=routers(),
        sweeper=sweeper,
        issuer=invoice_issuer(
            runtime, max_batch=settings.issue_batch_max, writers=settings.issue_writers
        ),
    )
