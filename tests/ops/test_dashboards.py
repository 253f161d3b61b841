"""Dashboards and alert rules read only metrics that the services really export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from .promql import metric_names, selector_labels

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
ALERTS = ROOT / "deploy/compose/alerts.yml"

# Written by Tempo's metrics generator from the spans (deploy/compose/tempo.yaml), not by a
# Dunlin service: the only names here taken on trust, from Tempo's documentation.
TEMPO_GENERATED = frozenset({"traces_spanmetrics_latency_bucket", "traces_spanmetrics_calls_total"})

# Business metrics the dashboards and alerts already show, which the named service does not
# export yet. test_proposed_metrics_are_exported fails (xfail) until each one is.
PROPOSED: dict[str, str] = {}
"""Metrics a dashboard may query before a service exports them: name -> who will, and how."""
# Labels Prometheus adds at scrape time, or that only exist on histogram buckets.
SCRAPE_LABELS = frozenset({"job", "instance", "le"})


def queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every dashboard panel target and every alert rule."""
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"alerts.yml: {rule['alert']}", rule["expr"]


def referenced() -> set[str]:
    return {name for _, expr in queries() for name in metric_names(expr)}


def test_the_query_parser_finds_metric_names_and_skips_functions_and_labels() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (job, le) (rate(http_x_bucket{job=~"$job"}[5m])))'
        " / on (job) group_left max(up) > 0.5"
    )
    assert metric_names(expr) == {"http_x_bucket", "up"}
    assert selector_labels(expr) == {"http_x_bucket": {"job"}}


def test_every_dashboard_panel_has_a_query_and_the_required_views_exist() -> None:
    titles = " | ".join(where for where, _ in queries())
    for topic in ("Request rate", "errors", "Latency", "Consumer lag", "Dead letters",
                  "Outbox backlog", "oldest unpublished", "dunning cases", "Promises",
                  "Deliveries by channel", "AR aging", "DSO"):  # fmt: skip
        assert topic in titles, topic
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"


def test_latency_panels_show_exemplars_linked_to_tempo() -> None:
    datasources = yaml.safe_load(
        (ROOT / "deploy/compose/grafana/provisioning/datasources/datasources.yaml").read_text()
    )["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    tempo = next(d for d in datasources if d["type"] == "tempo")
    links = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert {link["datasourceUid"] for link in links} == {tempo["uid"]}
    services = json.loads((ROOT / "deploy/grafana/dashboards/dunlin-services.json").read_text())
    assert any(t.get("exemplar") for p in services["panels"] for t in p["targets"])


def test_every_queried_metric_is_exported_by_a_running_service(
    exported_metrics: set[str],
) -> None:
    unknown = referenced() - exported_metrics - TEMPO_GENERATED - PROPOSED.keys()
    assert unknown == set(), f"queried but not exported: {sorted(unknown)}"
    assert len(referenced() & exported_metrics) >= 10  # the check above compared real names


def test_queried_labels_exist_on_the_exported_metrics(exported_labels: dict[str, set[str]]) -> None:
    for where, expr in queries():
        for name, labels in selector_labels(expr).items():
            if name in exported_labels:
                missing = labels - exported_labels[name] - SCRAPE_LABELS
                assert missing == set(), f"{where}: {name} has no label {sorted(missing)}"


def test_proposed_metrics_are_not_exported_under_that_name_already(
    exported_metrics: set[str],
) -> None:
    assert PROPOSED.keys() & exported_metrics == set(), "move them out of PROPOSED"
    assert PROPOSED.keys() <= referenced(), "PROPOSED lists a metric no query uses"
