"""deploy/k8s: every overlay renders and validates offline; hardening, topics, scaling, policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from dunlin_events.topics import ALL_TOPICS

from .kustomize import merge, render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
SCHEMAS = ROOT / "tests/ops/schemas"
OVERLAYS = ("dev", "prod")
SERVICES = ("invoicing", "payments", "dunning", "notifications", "risk")
_GROUP = {"apps": "apps", "batch": "batch", "policy": "policy", "networking.k8s.io": "networking"}


def _registry() -> Registry:
    definitions = json.loads((SCHEMAS / "kubernetes/v1.33/_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


REGISTRY = _registry()
CRDS: dict[str, Any] = json.loads((SCHEMAS / "crds.json").read_text())


def schema_for(resource: dict[str, Any]) -> dict[str, Any]:
    api, kind = resource["apiVersion"], resource["kind"]
    if f"{api}/{kind}" in CRDS:
        crd: dict[str, Any] = CRDS[f"{api}/{kind}"]
        return crd
    group, _, version = api.rpartition("/")
    suffix = f"{_GROUP[group]}-{version}" if group else version
    path = SCHEMAS / f"kubernetes/v1.33/{kind.lower()}-{suffix}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def validate(resource: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema_for(resource), registry=REGISTRY).validate(resource)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / request.param)


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def test_every_rendered_resource_validates_against_its_schema(
    rendered: list[dict[str, Any]],
) -> None:
    assert len(rendered) > 50
    for resource in rendered:
        try:
            validate(resource)
        except jsonschema.ValidationError as exc:
            name = f"{resource['kind']}/{resource['metadata']['name']}"
            pytest.fail(f"{name}: {exc.message} at {list(exc.absolute_path)}")


def test_the_schemas_refuse_a_broken_resource() -> None:
    deployment = next(r for r in render(K8S / "overlays/dev") if r["kind"] == "Deployment")
    broken = merge(deployment, {"spec": {"replicas": "two"}})
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    topic = next(r for r in render(K8S / "overlays/dev") if r["kind"] == "KafkaTopic")
    with pytest.raises(jsonschema.ValidationError):
        validate({**topic, "metadata": {"name": "no-cluster-label"}})


def test_each_service_has_its_whole_base(rendered: list[dict[str, Any]]) -> None:
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ConfigMap"):
        assert set(SERVICES) <= of_kind(rendered, kind).keys(), kind
    jobs = of_kind(rendered, "Job")
    for service in SERVICES:
        args = jobs[f"{service}-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args == ["python", "-m", service, "migrate"]


def _pods(rendered: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{r['kind']}/{r['metadata']['name']}", r["spec"]["template"]["spec"])
        for r in rendered
        if r["kind"] in {"Deployment", "Job"}
    ]


def test_pods_are_hardened(rendered: list[dict[str, Any]]) -> None:
    for name, pod in _pods(rendered):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp, name


def test_services_probe_healthz_and_readyz_and_use_versioned_images(
    rendered: list[dict[str, Any]],
) -> None:
    deployments = of_kind(rendered, "Deployment")
    for service in SERVICES:
        [container] = deployments[service]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["image"].rpartition(":")[2] not in {"", "latest"}
        assert f"dunlin-{service}:" in container["image"]


def test_there_is_a_kafka_topic_for_every_topic_and_its_dlq(
    rendered: list[dict[str, Any]],
) -> None:
    topics = {t["spec"]["topicName"] for t in of_kind(rendered, "KafkaTopic").values()}
    assert topics == set(ALL_TOPICS)
    [kafka] = of_kind(rendered, "Kafka").values()
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    pools = of_kind(rendered, "KafkaNodePool").values()
    assert {"controller", "broker"} <= {role for p in pools for role in p["spec"]["roles"]}


def test_postgres_has_one_role_and_schema_per_service(rendered: list[dict[str, Any]]) -> None:
    [cluster] = of_kind(rendered, "Cluster").values()
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    sql = cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]
    for service in SERVICES:
        assert service in roles
        assert f"CREATE SCHEMA {service} AUTHORIZATION {service}" in sql


def test_every_consumer_scales_on_its_lag(rendered: list[dict[str, Any]]) -> None:
    scaled = of_kind(rendered, "ScaledObject")
    for service in SERVICES:
        spec = scaled[service]["spec"]
        assert spec["scaleTargetRef"]["name"] == service
        assert spec["minReplicaCount"] >= 1
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["consumerGroup"].startswith(f"dunlin-{service}-")
            assert trigger["metadata"]["topic"] in ALL_TOPICS


def test_network_policies_deny_by_default_and_admit_what_each_service_needs(
    rendered: list[dict[str, Any]],
) -> None:
    policies = of_kind(rendered, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    deployments = of_kind(rendered, "Deployment")
    for service in SERVICES:
        spec = policies[service]["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
        reached = {port["port"] for rule in spec["egress"] for port in rule.get("ports", [])}
        assert {5432, 9092, 4318} <= reached, service
        # The data stores admit the services by a label the pods really carry.
        labels = deployments[service]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "dunlin"
    for store in ("postgres", "kafka"):
        selectors = [p for rule in policies[store]["spec"]["ingress"] for p in rule["from"]]
        assert {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "dunlin"}}} in (
            selectors
        )


def test_overlays_differ_where_they_should() -> None:
    dev = of_kind(render(K8S / "overlays/dev"), "Deployment")
    prod = of_kind(render(K8S / "overlays/prod"), "Deployment")
    assert dev["invoicing"]["spec"]["replicas"] == 1
    assert prod["invoicing"]["spec"]["replicas"] == 3
    assert all(r["metadata"]["namespace"] == "dunlin" for r in dev.values())


def test_the_renderer_refuses_features_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(ValueError, match="namePrefix"):
        render(tmp_path)
