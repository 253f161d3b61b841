"""Building outgoing events and their parts without validating them a second time.

The sweep builds three or more events per case from values that are already valid: amounts
come from `from_minor` in the account's currency, ids from validated facts, times are UTC.
Re-running every validator costs more than the rest of the step, so `build` constructs the
model directly. Tests switch on `STRICT`: every event is then also validated and must
serialise exactly as the one built without validation, so the fast path cannot drift.

`model_construct` itself walks every field's aliases on each call (about 50 µs for a
`NotificationRequested`); `build` does what it does for models without aliases, extras or
post-init hooks (the only kind it accepts) from a plan computed once per class.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound=tuple[Any, ...])

STRICT = False

_IMMUTABLE = (type(None), str, int, float, bool, Decimal, dt.date, dt.datetime, tuple, frozenset)
# Per class: (field name, default value, default factory) in declaration order.
_Plan = tuple[tuple[str, Any, Callable[[], Any] | None], ...]
_PLANS: dict[type[BaseModel], _Plan] = {}
# Per class: every field name in declaration order (the fast path of `build`).
_NAMES: dict[type[BaseModel], tuple[str, ...]] = {}


def _plan(cls: type[BaseModel]) -> _Plan:
    if cls.model_config.get("extra") == "allow" or cls.__pydantic_post_init__:
        raise TypeError(f"{cls.__name__}: build() supports no extras and no post-init")
    plan: list[tuple[str, Any, Callable[[], Any] | None]] = []
    for name, info in cls.__pydantic_fields__.items():
        if info.alias not in (None, name) or info.validation_alias not in (None, name):
            raise TypeError(f"{cls.__name__}.{name}: build() supports no aliases")
        if info.default_factory_takes_validated_data:
            raise TypeError(f"{cls.__name__}.{name}: build() needs a plain default factory")
        factory = cast("Callable[[], Any] | None", info.default_factory)
        default = info.default
        if (
            factory is None
            and default is not PydanticUndefined
            and not isinstance(default, _IMMUTABLE)
        ):
            factory = partial(copy.deepcopy, default)  # as model_construct copies it
        plan.append((name, default, factory))
    _PLANS[cls] = result = tuple(plan)
    _NAMES[cls] = tuple(name for name, _, _ in result)
    return result


def build(cls: type[M], **fields: Any) -> M:
    """`cls.model_construct(**fields)` (validated and compared when STRICT).

    Unknown field names are an error here (`model_construct` would drop them silently).
    A call that gives every field in declaration order (as the hot paths do) takes its
    keyword dictionary as the model's `__dict__` as it is, after one tuple comparison.
    """
    plan = _PLANS.get(cls) or _plan(cls)
    if tuple(fields) == _NAMES[cls]:
        return _made(cls, fields, fields)
    values: dict[str, Any] = {}
    given = 0
    for name, default, factory in plan:
        if name in fields:
            values[name] = fields[name]
            given += 1
        elif factory is not None:
            values[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{cls.__name__}: missing {name}")
        else:
            values[name] = default
    if given != len(fields):
        unknown = sorted(set(fields) - set(values))
        raise TypeError(f"{cls.__name__}: unknown fields {unknown}")
    return _made(cls, values, fields)


# BaseModel's slots, set through their descriptors (`object.__setattr__` looks each up first).
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[name].__set__
    for name in (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )
)


def _made(cls: type[M], values: dict[str, Any], fields: dict[str, Any]) -> M:
    built = cls.__new__(cls)
    _SET_DICT(built, values)
    _SET_FIELDS_SET(built, set(fields))
    _SET_EXTRA(built, None)
    _SET_PRIVATE(built, None)
    if STRICT:
        _check(cls, built, fields)
    return built


def _check(cls: type[M], built: M, fields: dict[str, Any]) -> None:
    constructed = cls.model_construct(**fields)
    if (constructed.__dict__, constructed.model_fields_set) != (
        built.__dict__,
        built.model_fields_set,
    ):
        raise AssertionError(f"{cls.__name__} differs from model_construct:\n{built!r}")
    checked = cls(**fields)
    if checked.model_dump_json() != built.model_dump_json():
        raise AssertionError(f"{cls.__name__} differs when validated:\n{checked!r}")


def assign(model: BaseModel, **values: Any) -> None:
    """Set fields as pydantic's `__setattr__` does without `validate_assignment` (the value
    in `__dict__`, the field marked set), in two C calls instead of three Python ones per field
    (compiled here, where the sweep calls it from compiled code three times per case).
    """
    if STRICT and not values.keys() <= type(model).__pydantic_fields__.keys():
        raise AttributeError(f"{type(model).__name__} has no field {sorted(values)}")
    model.__dict__.update(values)
    model.__pydantic_fields_set__.update(values)


_new_tuple = tuple.__new__


def new_tuple(cls: type[T], values: tuple[Any, ...]) -> T:
    """`cls(*values)` for a named tuple, by `tuple.__new__` directly: a named tuple's own
    `__new__` runs as plain Python, even when called from compiled code. `values` gives every
    field in order, defaults included (checked when STRICT: `tuple.__new__` checks nothing).
    """
    if STRICT:
        fields = cast("tuple[str, ...]", getattr(cls, "_fields"))  # noqa: B009 - typed
        if len(values) != len(fields):
            raise TypeError(f"{cls.__name__} has {len(fields)} fields, given {len(values)}")
    return _new_tuple(cls, values)
