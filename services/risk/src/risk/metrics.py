"""Risk's own Prometheus instruments."""

from __future__ import annotations

from dunlin_platform.metrics import GaugeBoard
from dunlin_platform.telemetry import meter

_m = meter()

assessments_published = _m.create_counter(
    "dunlin_risk_assessments_published", unit="1", description="RiskAssessed events staged"
)
model_load_failures = _m.create_counter(
    "dunlin_risk_model_load_failures", unit="1", description="Model versions that failed to load"
)
model_state = GaugeBoard()
"""1 for the model scoring now (label version); model_load_failed is 1 while a load failed."""

_m.create_observable_gauge(
    "dunlin_risk_model",
    callbacks=[model_state.observe()],
    unit="1",
    description="Active model version (1) and whether the last load failed",
)
