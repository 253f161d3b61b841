"""The unvalidated event builder: the same model `model_construct` makes, refused misuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field

from dunlin_events import Charge, DunningStepExecuted
from dunning.domain import build as build_module
from dunning.domain.balances import Line
from dunning.domain.build import build
from dunning.domain.state import ContactEntry, StepRecord

AT = dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC)


def _step(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "account_id": "acc-1",
        "case_id": "case-1",
        "policy_id": "default",
        "policy_version": 1,
        "step_key": "reminder",
        "step_index": 1,
        "outcome": "executed",
        "reason": None,
        "channels": ["email"],
        "currency": "EUR",
        "dunned_balance": Decimal("0.00"),
        "invoices": [],
        "charges": [
            build(Charge, kind="fee", description="Fee", amount=Decimal("5.00"), invoice_id=None)
        ],
        "executed_at": AT,
    }
    return fields | overrides


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (DunningStepExecuted, _step()),
        (StepRecord, {"index": 0, "key": "courtesy", "outcome": "skipped", "at": AT}),
        (ContactEntry, {"at": AT, "channel": "email", "status": "requested"}),
        # Every field in declaration order: the fast path.
        (
            ContactEntry,
            {
                "at": AT,
                "channel": "email",
                "step_key": "reminder",
                "status": "requested",
                "note": None,
                "notification_id": "n-1",
            },
        ),
        # Every field, out of order: the general path, the same model.
        (
            StepRecord,
            {
                "key": "courtesy",
                "index": 0,
                "outcome": "skipped",
                "at": AT,
                "fee": 0,
                "reason": None,
            },
        ),
    ],
)
def test_build_makes_what_model_construct_and_validation_make(
    cls: type[BaseModel], fields: dict[str, Any]
) -> None:
    built = build(cls, **fields)
    constructed = cls.model_construct(**fields)
    assert type(built) is cls
    assert built.__dict__ == constructed.__dict__
    assert list(built.__dict__) == list(constructed.__dict__)  # serialisation order
    assert built.model_fields_set == constructed.model_fields_set
    assert built.model_dump_json() == cls.model_validate(fields).model_dump_json()
    assert built == cls.model_validate(fields)


def test_mutable_defaults_are_not_shared() -> None:
    class WithDefaults(BaseModel):
        tags: list[str] = Field(default_factory=list)
        names: list[str] = []  # a mutable default: build copies it

    first, second = build(WithDefaults), build(WithDefaults)
    first.tags.append("a")
    first.names.append("b")
    assert (second.tags, second.names) == ([], [])
    assert WithDefaults().names == []


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown fields"):
        build(StepRecord, index=0, key="k", outcome="skipped", at=AT, colour="red")
    with pytest.raises(TypeError, match="missing"):
        build(StepRecord, index=0, key="k", outcome="skipped")


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_strict_mode_catches_a_value_validation_would_change() -> None:
    assert build_module.STRICT  # tests/conftest.py switches it on for every test
    with pytest.raises(AssertionError, match="differs when validated"):
        build(StepRecord, index="3", key="k", outcome="skipped", at=AT)


DUE = dt.date(2025, 3, 1)


def test_new_tuple_makes_the_named_tuple_and_refuses_a_wrong_field_count() -> None:
    made = build_module.new_tuple(Line, ("i1", "N-1", DUE, 500, 100, False))
    assert made == Line("i1", "N-1", DUE, 500, 100, False)
    assert type(made) is Line
    with pytest.raises(TypeError, match="Line has 6 fields, given 5"):
        build_module.new_tuple(Line, ("i1", "N-1", DUE, 500, 100))
