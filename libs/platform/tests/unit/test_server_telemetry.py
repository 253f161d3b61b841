"""ServerTelemetry gives the spans and HTTP metrics FastAPI's native telemetry gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from dunlin_platform.app import ServiceApp
from dunlin_platform.http.problems import NotFoundError, install_problem_handlers
from dunlin_platform.telemetry import ServerTelemetry

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Thing(BaseModel):
    name: str


async def tagged(request: Request) -> None:
    request.state.tagged = True


def routes(app: FastAPI) -> FastAPI:
    """The shape of a service: problem handlers, a prefixed router included with a dependency."""
    install_problem_handlers(app)
    router = APIRouter(prefix="/things")

    @router.post("", status_code=201)
    async def create(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    @router.get("/{thing_id}")
    async def read(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise NotFoundError("no thing 0")
        return {"id": thing_id}

    @router.get("/{thing_id}/boom")
    async def boom(thing_id: int) -> None:
        raise RuntimeError("boom")

    @router.get("/{thing_id}/gone")
    async def gone(thing_id: int) -> JSONResponse:
        return JSONResponse({"gone": True}, status_code=503)

    app.include_router(router, dependencies=[Depends(tagged)])
    return app


@dataclass
class Observed:
    app: FastAPI
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader


def observed(*, native: bool) -> Observed:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    if native:
        app = FastAPI(
            telemetry={
                "tracer_provider": tracer_provider,
                "meter_provider": meter_provider,
                "operation_spans": False,
                "logs": False,
            }
        )
    else:
        telemetry = ServerTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
        app = ServiceApp(server_telemetry=telemetry)
    return Observed(routes(app), exporter, reader)


REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "created": ("POST", "/things", {"json": {"name": "a"}}),
    "invalid body": ("POST", "/things", {"json": {"nom": "a"}}),
    "read": ("GET", "/things/7", {}),
    "problem 404": ("GET", "/things/0", {}),
    "unknown path": ("GET", "/nothing/here", {}),
    "wrong method": ("DELETE", "/things", {}),
    "unhandled exception": ("GET", "/things/1/boom", {}),
    "5xx answered": ("GET", "/things/1/gone", {}),
    "with a parent": ("GET", "/things/7", {"headers": {"traceparent": TRACEPARENT}}),
    "with a query": ("GET", "/things/7", {"params": {"sig": "secret", "a": "1"}}),
    "unknown method": ("BREW", "/things", {}),
}


async def send(app: FastAPI, method: str, path: str, extra: dict[str, Any]) -> int:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test:8080") as c:
        return (await c.request(method, path, **extra)).status_code


def span_view(span: ReadableSpan) -> dict[str, Any]:
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code,
        "parent": (parent.trace_id, parent.span_id) if parent else None,
        "scope": (
            span.instrumentation_scope.name,
            span.instrumentation_scope.version,
            span.instrumentation_scope.schema_url,
        )
        if span.instrumentation_scope
        else None,
    }


def metric_view(reader: InMemoryMetricReader) -> dict[str, Any]:
    """Every data point but durations' values (timing) and timestamps."""
    data = reader.get_metrics_data()
    assert data is not None
    view: dict[str, Any] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                points: list[tuple[Any, ...]] = []
                for point in metric.data.data_points:
                    attributes = tuple(sorted(dict(point.attributes or {}).items()))
                    if isinstance(point, HistogramDataPoint):
                        points.append((attributes, point.count, tuple(point.explicit_bounds)))
                    else:
                        assert isinstance(point, NumberDataPoint)
                        points.append((attributes, point.value))
                view[metric.name] = {
                    "scope": (scope.name, scope.version, scope.schema_url),
                    "unit": metric.unit,
                    "description": metric.description,
                    "kind": type(metric.data).__name__,
                    "monotonic": getattr(metric.data, "is_monotonic", None),
                    "points": sorted(points),
                }
    return view


@pytest.fixture
def pair() -> tuple[Observed, Observed]:
    return observed(native=True), observed(native=False)


@pytest.mark.parametrize("case", list(REQUESTS))
async def test_each_request_gets_the_span_fastapi_makes(
    case: str, pair: tuple[Observed, Observed]
) -> None:
    native, ours = pair
    method, path, extra = REQUESTS[case]

    statuses = [await send(o.app, method, path, extra) for o in (native, ours)]

    assert statuses[0] == statuses[1]
    expected = [span_view(s) for s in native.spans.get_finished_spans()]
    got = [span_view(s) for s in ours.spans.get_finished_spans()]
    assert got == expected
    assert len(got) == 1


async def test_the_http_metrics_are_fastapis(pair: tuple[Observed, Observed]) -> None:
    native, ours = pair

    for observed_app in (native, ours):
        for method, path, extra in REQUESTS.values():
            await send(observed_app.app, method, path, extra)

    expected = metric_view(native.metrics)
    got = metric_view(ours.metrics)
    assert set(got) == {"http.server.request.duration", "http.server.active_requests"}
    assert got == expected


async def test_requests_in_flight_are_counted_while_they_run() -> None:
    reader = InMemoryMetricReader()
    telemetry = ServerTelemetry(meter_provider=MeterProvider(metric_readers=[reader]))
    app = ServiceApp(server_telemetry=telemetry)
    seen: list[Any] = []

    @app.get("/slow")
    async def slow() -> None:
        seen.append(metric_view(reader)["http.server.active_requests"]["points"])

    await send(app, "GET", "/slow", {})

    in_flight = (("http.request.method", "GET"), ("url.scheme", "http"))
    assert seen == [[(in_flight, 1)]]
    assert metric_view(reader)["http.server.active_requests"]["points"] == [(in_flight, 0)]


async def test_health_and_metrics_scrapes_are_not_traced() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = ServiceApp(server_telemetry=ServerTelemetry(tracer_provider=tracer_provider))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    assert await send(app, "GET", "/healthz", {}) == 200
    assert exporter.get_finished_spans() == ()
