"""Probes: liveness always answers, readiness reports failing checks, metrics are exposed."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI

from dunlin_platform.http.health import health_router


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionRefusedError("broker at 127.0.0.1:9092 refused")


async def hangs() -> None:
    await asyncio.sleep(10)


def client(**checks: object) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(health_router(checks, timeout=0.2))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_healthz_says_ok() -> None:
    async with client(database=broken) as http:
        response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_when_every_check_passes() -> None:
    async with client(database=ok, broker=ok) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def test_readyz_is_a_503_problem_naming_failed_checks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with client(database=ok, broker=broken, cache=hangs) as http:
        with caplog.at_level(logging.WARNING, logger="dunlin_platform.http.health"):
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == "Not ready: broker, cache failed."
    assert problem["checks"] == {
        "database": "ok",
        "broker": "failed: ConnectionRefusedError",
        "cache": "timed out after 0.2s",
    }
    # The probe is unauthenticated: hosts, ports and users stay in the service's log.
    assert "127.0.0.1" not in response.text
    assert "broker at 127.0.0.1:9092 refused" in caplog.text


async def test_metrics_are_prometheus_text() -> None:
    async with client() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE" in response.text


async def test_metrics_speak_openmetrics_when_asked() -> None:
    async with client() as http:
        response = await http.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
