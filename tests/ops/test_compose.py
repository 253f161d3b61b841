"""docker-compose.yml: valid Compose, health-gated start order, pinned images, no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dunlin_events.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("invoicing", "payments", "dunning", "risk", "notifications")
ONE_SHOTS = {"kafka-topics", "platform-migrate", *(f"{s}-migrate" for s in SERVICES)}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_the_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests/ops/schemas/compose-spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_an_invalid_file_is_refused_by_the_schema() -> None:
    schema = json.loads((ROOT / "tests/ops/schemas/compose-spec.json").read_text())
    broken = {"services": {"x": {"image": "a:1", "depends_on": {"y": {"condition": "ready"}}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(broken)


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    missing = [
        n for n, s in compose["services"].items() if not s.get("healthcheck", {}).get("test")
    ]
    assert missing == []


def test_every_dependency_waits_for_health_or_completion(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, rule in depends.items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            )
            assert rule.get("condition") == expected, f"{name} -> {dependency}"


def test_every_dunlin_service_starts_after_its_migration_and_the_topics(
    compose: dict[str, Any],
) -> None:
    for name in SERVICES:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        assert {f"{name}-migrate", "kafka-topics"} <= service["depends_on"].keys()
        migrate = compose["services"][f"{name}-migrate"]
        assert migrate["command"] == ["python", "-m", name, "migrate"]


def test_the_topic_step_creates_every_platform_topic(compose: dict[str, Any]) -> None:
    step = compose["services"]["kafka-topics"]
    assert step["environment"]["DUNLIN_TOPICS"].split() == list(ALL_TOPICS)
    assert "$$DUNLIN_TOPICS" in step["command"][0]


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} is not a version"


_SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)", re.IGNORECASE)


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        for key, value in env.items():
            text = str(value)
            if _SECRETISH.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", text), f"{name}.{key} is inline"
            if "://" in text and "@" in text:  # credentials in a URL come from .env too
                assert "${" in text.split("@")[0], f"{name}.{key} has inline credentials"


def test_config_files_mounted_from_the_repo_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_notifications_sends_mail_to_the_smtp_sink(compose: dict[str, Any]) -> None:
    env = compose["services"]["notifications"]["environment"]
    assert env["SMTP_HOST"] == "mailpit"
    assert str(env["SMTP_PORT"]) == "1025"
