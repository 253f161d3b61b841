import copy
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, create_model

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


def _field_schema(annotation: Any) -> dict[str, Any]:
    model = create_model("Model", x=(annotation, ...))
    return model.model_json_schema(mode="serialization")


AKey = Annotated[str, Field(pattern="^a")]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (list[str], set[str], "x: items newly required to be unique"),
        (dict[str, int], dict[str, str], "x{}: type changed"),
        (dict[str, str], dict[str, Annotated[str, Field(max_length=3)]], "x{}: maxLength lowered"),
        (dict[str, int], dict[AKey, int], "x: keys newly restricted to pattern"),
        (dict[AKey, int], dict[AKey, str], "x{}: type changed"),
        (dict[str, int], dict[Literal["a", "b"], int], "x{key}: values newly restricted"),
        (tuple[int, str], tuple[int, int], "x[1]: type changed"),
        (list[str], tuple[str, int], "x[1]: type changed"),
        (tuple[int, str], list[int], "x[1]: type changed"),
    ],
)
def test_breaking_changes_to_maps_sets_and_tuples_are_reported(old, new, expected):
    problems = check_backward_compatible(_field_schema(old), _field_schema(new))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (dict[str, int], dict[str, int | str]),
        (dict[Literal["a"], int], dict[str, int]),
        (dict[AKey, int], dict[AKey, int | None]),
        (set[str], list[str]),
        (tuple[int, str], tuple[int, str | None]),
        (tuple[int, str], list[int | str]),
    ],
)
def test_widening_maps_sets_and_tuples_is_compatible(old, new):
    assert check_backward_compatible(_field_schema(old), _field_schema(new)) == []


def test_items_after_an_open_tuple_s_positions_are_compared():
    old = {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}}
    new = {**old, "items": {"type": "string"}}
    assert check_backward_compatible(old, new) == [
        "(root)[]: type changed from integer to string, no longer accepted"
    ]
