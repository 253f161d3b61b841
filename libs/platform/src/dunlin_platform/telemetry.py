"""OpenTelemetry traces and metrics, structured JSON logs with trace ids."""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pythonjsonlogger.json import JsonFormatter

from dunlin_platform.config import ServiceSettings

_PROPAGATOR = TraceContextTextMapPropagator()
_configured = False


def tracer() -> trace.Tracer:
    """The tracer for Dunlin's own spans."""
    return trace.get_tracer("dunlin")


def meter() -> metrics.Meter:
    """The meter for Dunlin's own instruments."""
    return metrics.get_meter("dunlin")


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, if one is recording."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def traceparent_of(span: trace.Span | trace.SpanContext) -> str | None:
    """The W3C traceparent of a span (what the propagator would inject with it current).

    Formatted directly: cheaper than injecting through the propagator on hot paths.
    """
    ctx = span if isinstance(span, trace.SpanContext) else span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


def context_from_traceparent(traceparent: str | None) -> Context:
    """A context whose parent is the given traceparent (or an empty one)."""
    if not traceparent:
        return otel_context.Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


def setup_telemetry(settings: ServiceSettings) -> None:
    """Install providers and logging once per process; later calls are no-ops."""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create(
        {
            "service.name": f"dunlin-{settings.service_name}",
            "service.namespace": "dunlin",
            "deployment.environment": settings.environment,
        }
    )
    _setup_traces(settings, resource)
    _setup_metrics(settings, resource)
    setup_logging(settings)


def _setup_traces(settings: ServiceSettings, resource: Resource) -> None:
    exporter: SpanExporter | None = None
    if settings.otel_traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=_otlp_url(settings, "traces"))
    elif settings.otel_traces_exporter == "console":
        exporter = ConsoleSpanExporter()
    if exporter is None:
        # Nothing is exported, but trace context must still flow through every hop (HTTP,
        # outbox row, Kafka header): unsampled spans carry real ids and cost next to nothing.
        trace.set_tracer_provider(TracerProvider(resource=resource, sampler=ALWAYS_OFF))
        return
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _setup_metrics(settings: ServiceSettings, resource: Resource) -> None:
    # Prometheus is always on: /metrics is part of every service's contract.
    readers: list[MetricReader] = [PrometheusMetricReader()]
    if settings.otel_metrics_exporter == "otlp" or (
        settings.otel_exporter_otlp_endpoint and settings.otel_metrics_exporter != "none"
    ):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=_otlp_url(settings, "metrics"))
            )
        )
    elif settings.otel_metrics_exporter == "console":
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def _otlp_url(settings: ServiceSettings, signal: str) -> str | None:
    if not settings.otel_exporter_otlp_endpoint:
        return None
    return f"{settings.otel_exporter_otlp_endpoint.rstrip('/')}/v1/{signal}"


class _TraceIdFilter(logging.Filter):
    """Stamp every record with the active trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


def setup_logging(settings: ServiceSettings) -> None:
    """Structured JSON logs on stdout (or plain text for local reading)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TraceIdFilter())
    if settings.log_format == "json":
        fields: dict[str, Any] = {"levelname": "level", "asctime": "time", "name": "logger"}
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields=fields,
                static_fields={"service": settings.service_name},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
