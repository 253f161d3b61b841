"""AR aging and DSO as Prometheus gauges, refreshed on an interval from the reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Observation

from dunlin_events import exponent
from dunlin_platform.periodic import every
from dunlin_platform.runtime import ServiceRuntime
from dunlin_platform.telemetry import meter
from invoicing.reporting.queries import Scope
from invoicing.reporting.reports import aging_report, kpi_report

DSO_WINDOW_DAYS = 90


class ArSnapshot:
    """The last figures computed, read by the observable gauges at scrape time."""

    def __init__(self) -> None:
        self.aging: dict[tuple[str, str], float] = {}
        self.dso: dict[str, float] = {}

    def observe_aging(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(amount, {"currency": currency, "bucket": bucket})
            for (currency, bucket), amount in self.aging.items()
        ]

    def observe_dso(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(days, {"currency": currency}) for currency, days in self.dso.items()]


snapshot = ArSnapshot()
_m = meter()
_m.create_observable_gauge(
    "dunlin_ar_aging_amount",
    callbacks=[snapshot.observe_aging],
    unit="1",
    description="Open receivables by aging bucket, in major units of the currency",
)
_m.create_observable_gauge(
    "dunlin_ar_dso_days",
    callbacks=[snapshot.observe_dso],
    unit="d",
    description=f"Days sales outstanding (countback) over the last {DSO_WINDOW_DAYS} days",
)


async def refresh(runtime: ServiceRuntime) -> None:
    """Recompute aging and DSO for every currency into the snapshot."""
    today = runtime.clock.now().date()
    async with runtime.sessionmaker() as session:
        aging = await aging_report(session=session, as_of=today, today=today, scope=Scope())
        kpis = await kpi_report(
            session=session,
            start=today - dt.timedelta(days=DSO_WINDOW_DAYS),
            end=today,
            scope=Scope(),
        )
    snapshot.aging = {
        (currency, bucket): total.balance_minor / 10 ** exponent(currency)
        for currency, buckets in aging.currencies.items()
        for bucket, total in buckets.items()
    }
    snapshot.dso = {k.currency: float(k.kpis.dso_days) for k in kpis if k.kpis.dso_days is not None}


def add_gauge_loop(runtime: ServiceRuntime, *, interval_s: float) -> None:
    """Refresh the AR gauges at start and then every `interval_s` (0: never)."""
    if interval_s > 0:
        runtime.add_loop(
            "ar-gauges",
            every(runtime, "AR gauges", interval_s, lambda: refresh(runtime), at_start=True),
        )
