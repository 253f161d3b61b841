import json

import pytest

from dunlin_events import asyncapi, generate, topics
from dunlin_events.base import all_events
from dunlin_events.compat import check_backward_compatible, check_released_types


def test_committed_schemas_and_asyncapi_are_current():
    stale = generate.stale_files()
    assert not stale, f"run `python -m dunlin_events.generate`; stale: {stale}"


def test_check_mode_exits_zero_when_current():
    assert generate.main(["--check"]) == 0


@pytest.mark.parametrize("cls", all_events(), ids=lambda cls: cls.ce_type())
def test_current_schema_is_backward_compatible_with_release(cls):
    released = generate.RELEASED / f"{cls.ce_type()}.json"
    assert released.exists(), f"no released baseline for {cls.ce_type()}"
    old = json.loads(released.read_text())
    new = cls.model_json_schema(mode="serialization")
    assert check_backward_compatible(old, new) == []


def test_no_released_event_type_is_removed_or_broken():
    released = {
        path.stem: json.loads(path.read_text()) for path in generate.RELEASED.glob("*.json")
    }
    assert released
    assert check_released_types(released, generate.event_schemas()) == []


def test_removing_a_released_event_type_is_reported():
    schemas = generate.event_schemas()
    removed = "dunlin.risk.RiskAssessed.v1"
    current = {name: schema for name, schema in schemas.items() if name != removed}
    assert check_released_types(schemas, current) == [f"{removed}: released event type removed"]


def test_asyncapi_describes_every_topic_and_event():
    doc = asyncapi.build()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == set(topics.ALL_TOPICS)
    assert {cls.ce_type() for cls in all_events()} <= set(doc["components"]["messages"])
    assert "invoicing_receive_erp_invoices" in doc["operations"]
