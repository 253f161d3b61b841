import copy
from collections.abc import Callable
from typing import Any

import pytest

from dunlin_events.compat import check_backward_compatible
from dunlin_events.invoicing import InvoiceIssued

BASE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 0},
        "kind": {"enum": ["a", "b"]},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "item": {"$ref": "#/$defs/Item"},
    },
    "required": ["id"],
    "$defs": {"Item": {"type": "object", "properties": {"x": {"type": "number"}}}},
}


def changed(mutate: Callable[[dict[str, Any]], object]) -> list[str]:
    new = copy.deepcopy(BASE)
    mutate(new)
    return check_backward_compatible(BASE, new)


def test_identical_schemas_are_compatible():
    assert check_backward_compatible(BASE, copy.deepcopy(BASE)) == []


def test_adding_an_optional_property_is_compatible():
    assert changed(lambda s: s["properties"].update(extra={"type": "string"})) == []


def test_widening_is_compatible():
    assert changed(lambda s: s["properties"]["kind"].update(enum=["a", "b", "c"])) == []
    assert changed(lambda s: s["properties"]["id"].update(maxLength=20)) == []
    assert changed(lambda s: s["properties"]["count"].update(type="number")) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s["properties"].pop("count"), "count: property removed"),
        (lambda s: s["required"].append("count"), "count: property is newly required"),
        (lambda s: s["properties"]["count"].update(type="string"), "count: type changed"),
        (lambda s: s["properties"]["kind"].update(enum=["a"]), "kind: enum value(s) removed"),
        (lambda s: s["properties"]["id"].update(maxLength=5), "id: maxLength lowered"),
        (lambda s: s["properties"]["count"].update(minimum=1), "count: minimum raised"),
        (lambda s: s["properties"]["id"].update(pattern="^[a-c]+$"), "id: pattern changed"),
        (lambda s: s.update(additionalProperties=False), "additionalProperties closed"),
        (lambda s: s["properties"].update(note={"type": "string"}), "note: type changed"),
        (lambda s: s["$defs"]["Item"]["properties"].pop("x"), "item.x: property removed"),
        (
            lambda s: s["$defs"]["Item"]["properties"]["x"].update(type="integer"),
            "item.x: type changed",
        ),
    ],
)
def test_breaking_changes_are_reported(mutate, expected):
    problems = changed(mutate)
    assert any(expected in problem for problem in problems), problems


def test_real_event_schema_change_is_caught():
    old = InvoiceIssued.model_json_schema(mode="serialization")
    new = copy.deepcopy(old)
    new["$defs"]["InvoiceLine"]["properties"]["description"]["maxLength"] = 100
    new["required"].append("purchase_order")
    problems = check_backward_compatible(old, new)
    assert "lines[].description: maxLength lowered to 100 (was 500)" in problems
    assert "purchase_order: property is newly required" in problems
