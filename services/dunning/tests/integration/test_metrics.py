"""The funnel metrics the Grafana dashboards read: open cases by step, promise outcomes."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.clock import ManualClock
from dunning.config import DunningSettings
from dunning.metrics import cases_by_step, refresh_cases

from .support import Scenario, of_type


async def _samples(client: httpx.AsyncClient, name: str) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {
        ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k in ("step", "outcome")): (
            s.value
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_cases_by_step_and_promise_outcomes_are_exported(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: DunningSettings,
    clock: ManualClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    runtime = app.state.runtime
    sc = Scenario(client, settings, clock, sessionmaker)
    await sc.sweep()  # whatever other tests left due runs now, not in the sweep measured below
    await refresh_cases(runtime)
    before = dict(cases_by_step.counts)
    assert {"courtesy", "agency", "final_notice"} <= before.keys()  # zeros are exported too
    promises_before = await _samples(client, "dunlin_dunning_promises_total")
    assert {"outcome=kept", "outcome=broken"} <= promises_before.keys()

    await sc.invoicing(sc.account, sc.invoice("800.00", due_in_days=-2))
    await sc.sweep()  # courtesy skipped, reminder executed: the case stands at the reminder
    await refresh_cases(runtime)
    assert cases_by_step.counts["reminder"] == before["reminder"] + 1
    gauge = await _samples(client, "dunlin_dunning_cases")
    assert gauge["step=reminder"] == cases_by_step.counts["reminder"]

    promised = clock.now().date() + dt.timedelta(days=2)
    response = await client.post(
        f"/accounts/{sc.account_id}/promises",
        headers={"Idempotency-Key": sc.account_id},
        json={
            "amount": "800.00",
            "promised_date": promised.isoformat(),
            "grace_days": 0,
            "recorded_by": "c-1",
        },
    )
    assert response.status_code == 201, response.text
    await sc.days(3)  # unpaid past the date: broken
    assert len(of_type(await sc.published(), "PromiseToPayBroken")) == 1
    after = await _samples(client, "dunlin_dunning_promises_total")
    assert after["outcome=broken"] == promises_before["outcome=broken"] + 1
    assert after["outcome=kept"] == promises_before["outcome=kept"]
