"""The platform's instruments measure what their names say, on scales that fit."""

from __future__ import annotations

import json
import subprocess
import sys

_BATCH_DURATION_BUCKETS = """
import json
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
from dunlin_platform import metrics as m

for seconds in (0.004, 0.04, 0.4, 4.0):
    m.consumer_batch_seconds.record(seconds, {"group": "g"})
data = reader.get_metrics_data()
[point] = [
    p
    for rm in data.resource_metrics
    for sm in rm.scope_metrics
    for metric in sm.metrics
    if metric.name == "dunlin_consumer_batch_duration"
    for p in metric.data.data_points
]
print(json.dumps({"bounds": list(point.explicit_bounds), "counts": list(point.bucket_counts)}))
"""


def test_batch_durations_from_milliseconds_to_seconds_fall_in_different_buckets() -> None:
    # A fresh interpreter: the instruments bind to the first global meter provider.
    out = subprocess.run(
        [sys.executable, "-c", _BATCH_DURATION_BUCKETS], check=True, capture_output=True, text=True
    ).stdout
    histogram = json.loads(out)
    assert sorted(histogram["counts"], reverse=True)[:4] == [1, 1, 1, 1], histogram
