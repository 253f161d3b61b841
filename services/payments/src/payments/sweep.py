"""Background work on the clock: the plan sweep and the count of held ERP payments."""

from __future__ import annotations

from dunlin_platform.periodic import every
from dunlin_platform.runtime import ServiceRuntime
from payments.config import PaymentsSettings
from payments.handlers import plans
from payments.metrics import held_payments
from payments.repository import pending as pending_repo


async def sweep_once(runtime: ServiceRuntime, *, settings: PaymentsSettings) -> int:
    """Sweep due plans in batches until none is left; returns the installments reported."""
    reported = 0
    while True:
        now = runtime.clock.now()
        async with runtime.sessionmaker() as session, session.begin():
            events = await plans.sweep(
                session=session,
                grace_days=settings.plan_grace_days,
                limit=settings.plan_sweep_batch_size,
                now=now,
            )
            await runtime.outbox.add(session, *events, occurred_at=now)
        reported += len(events)
        if not events:
            return reported


async def count_held_once(runtime: ServiceRuntime) -> int:
    """Count the ERP payments waiting for their account into the gauges; returns the count."""
    async with runtime.sessionmaker() as session:
        waiting, oldest_at = await pending_repo.waiting_summary(session=session)
    held_payments.set(waiting=waiting, oldest_at=oldest_at, now=runtime.clock.now())
    return waiting


def add_loops(runtime: ServiceRuntime, *, settings: PaymentsSettings) -> None:
    """Register the plan sweep and the held-payments count with the runtime."""
    runtime.add_loop(
        "plan-sweep",
        every(
            runtime,
            "plan sweep",
            settings.plan_sweep_interval_s,
            lambda: sweep_once(runtime, settings=settings),
        ),
    )
    runtime.add_loop(
        "pending-payments-gauge",
        every(
            runtime,
            "held payments count",
            settings.pending_gauge_interval_s,
            lambda: count_held_once(runtime),
            at_start=True,
        ),
    )
