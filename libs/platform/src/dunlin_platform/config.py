"""Settings base shared by every Dunlin service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]
TelemetryExporter = Literal["none", "console", "otlp"]


class ServiceSettings(BaseSettings):
    """Configuration read from the environment; each service subclasses it."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(description="Service name: CloudEvents source and DB schema.")
    environment: Environment = "development"

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/dunlin"
    db_schema: str = Field(default="", description="Defaults to the service name.")
    db_pool_size: int = Field(default=10, ge=1, le=200)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str = ""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)

    consumer_batch_size: int = Field(default=1000, ge=1, le=50_000)
    consumer_poll_timeout_ms: int = Field(default=500, ge=1)
    consumer_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=30_000,
        description="Longest the broker holds a fetch open for partitions with no new data."
        " The client sends one fetch per broker at a time, so a fetch held open for idle"
        " partitions delays the next fetch of busy ones by up to this long (Kafka's"
        " default, 500 ms, stalled a backlog with idle sibling partitions).",
    )
    consumer_max_backoff_s: float = Field(default=30.0, gt=0)
    consumer_lanes: dict[str, Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=dict,
        description="Partition lanes per consumer name (JSON object), overriding the service's"
        ' default for that consumer: e.g. {"erp-invoices": 4}.',
    )

    inbox_retention_days: int = Field(
        default=30,
        ge=0,
        description="Days a consumed event's id stays in the inbox: the consumers' window for"
        " recognising a redelivered event (0 keeps every id).",
    )

    outbox_batch_size: int = Field(default=2000, ge=1, le=50_000)
    outbox_poll_interval_s: float = Field(
        default=5.0, gt=0, description="Safety poll; the relay normally wakes on NOTIFY."
    )
    outbox_retention_hours: int = Field(default=72, ge=0)

    otel_traces_exporter: TelemetryExporter = "none"
    otel_metrics_exporter: TelemetryExporter = "none"
    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain postgres URLs and pin the asyncpg driver."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        return value

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSettings:
        """Derive what is not given: schema and client id from the service name, the trace
        exporter from the OTLP endpoint."""
        if not self.db_schema:
            object.__setattr__(self, "db_schema", self.service_name)
        if not self.kafka_client_id:
            object.__setattr__(self, "kafka_client_id", f"dunlin-{self.service_name}")
        # An endpoint alone turns trace export on; OTEL_TRACES_EXPORTER=none still turns it off.
        if self.otel_exporter_otlp_endpoint and "otel_traces_exporter" not in self.model_fields_set:
            object.__setattr__(self, "otel_traces_exporter", "otlp")
        return self

    @property
    def source(self) -> str:
        """The CloudEvents source of everything this service publishes."""
        return f"/dunlin/{self.service_name}"
