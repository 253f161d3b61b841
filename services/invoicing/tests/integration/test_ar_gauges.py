"""AR aging and DSO reach /metrics as gauges operators can chart and alert on."""

from __future__ import annotations

import re

import httpx
import pytest_asyncio

from invoicing.reporting import gauges

from .test_reports import Running, account, clocked, invoice  # noqa: F401 (fixture)


def gauge(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus exposition, 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


@pytest_asyncio.fixture(loop_scope="session")
async def before(clocked: Running) -> str:  # noqa: F811
    app, _, client = clocked
    await gauges.refresh(app.state.runtime)
    return await scrape(client)


async def test_a_new_overdue_invoice_adds_its_amount_to_its_bucket(clocked: Running, before: str):  # noqa: F811
    app, _, client = clocked
    chf = await account(client, "gauges", "CHF")
    await invoice(client, chf, "2032-06-20", "250.00", currency="CHF")  # 11 days overdue
    await gauges.refresh(app.state.runtime)
    after = await scrape(client)
    name = "dunlin_ar_aging_amount"
    grew = gauge(after, name, currency="CHF", bucket="1-30") - gauge(
        before, name, currency="CHF", bucket="1-30"
    )
    assert grew == 250.0
    assert gauge(after, name, currency="CHF", bucket="current") == gauge(
        before, name, currency="CHF", bucket="current"
    )
