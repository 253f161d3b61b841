"""The dunning funnel for Grafana: open cases by step, promises kept and broken."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dunlin_events import Event, PromiseToPayBroken, PromiseToPayKept
from dunlin_platform.periodic import every
from dunlin_platform.runtime import ServiceRuntime
from dunlin_platform.telemetry import meter
from dunning import repository as repo
from dunning.domain.assignment import PolicyBook
from dunning.domain.engine import FINAL_REMINDER_KEY


class CasesByStep:
    """The last grouped count, read by the observable gauge at scrape time."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"step": step}) for step, n in list(self.counts.items())]


cases_by_step = CasesByStep()
_m = meter()
_m.create_observable_gauge(
    "dunlin_dunning_cases",
    callbacks=[cases_by_step.observe],
    unit="1",
    description="Open dunning cases by their current (last executed or skipped) step",
)
promises = _m.create_counter(
    "dunlin_dunning_promises",
    unit="1",
    description="Promises to pay resolved, by outcome (kept, broken)",
)
_PENDING = "dunning_promise_outcomes"


def step_keys(book: PolicyBook) -> set[str]:
    """Every step key the known policies have, so an emptied step reports 0, not nothing."""
    keys = {FINAL_REMINDER_KEY}
    for policy in [*book.latest.values(), *book.versions.values()]:
        keys.update(step.key for step in policy.body.steps)
    return keys


async def refresh_cases(runtime: ServiceRuntime) -> None:
    """Recount open cases per step (index-only over the open cases)."""
    async with runtime.sessionmaker() as session:
        counts = await repo.open_cases_by_step(session=session)
        book = await repo.policy_book(session=session)
    cases_by_step.counts = {key: 0 for key in step_keys(book)} | counts


def count_promises_after_commit(session: AsyncSession, events: Sequence[Event]) -> None:
    """Count the kept and broken promises among `events` once the transaction commits."""
    kept = sum(1 for e in events if isinstance(e, PromiseToPayKept))
    broken = sum(1 for e in events if isinstance(e, PromiseToPayBroken))
    if not kept and not broken:
        return
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {"kept": 0, "broken": 0}
        sync = session.sync_session

        def committed(s: Session) -> None:
            counted = s.info.pop(_PENDING, {})
            for outcome, n in counted.items():
                if n:
                    promises.add(n, {"outcome": outcome})

        def rolled_back(s: Session, *_: object) -> None:
            s.info.pop(_PENDING, None)

        event.listen(sync, "after_commit", committed, once=True)
        event.listen(sync, "after_soft_rollback", rolled_back, once=True)
    pending["kept"] += kept
    pending["broken"] += broken


def add_metric_loops(runtime: ServiceRuntime, *, interval_s: float) -> None:
    """Export both series from the start; refresh the case gauge every `interval_s` (0: never)."""
    refresh = every(
        runtime, "dunning case gauge", interval_s, lambda: refresh_cases(runtime), at_start=True
    )

    async def loop() -> None:
        # Loops start once telemetry is set up: zeros now make both outcomes visible at once.
        for outcome in ("kept", "broken"):
            promises.add(0, {"outcome": outcome})
        if interval_s > 0:
            await refresh()

    runtime.add_loop("dunning-metrics", loop)
