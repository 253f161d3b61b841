"""Backward-compatibility check between two JSON Schemas of the same event."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")


def check_backward_compatible(old: Schema, new: Schema) -> list[str]:
    """Human-readable breaking changes from `old` to `new`; empty when compatible."""
    return _Comparer(old, new).compare(old, new, "(root)")


def check_released_types(released: dict[str, Schema], current: dict[str, Schema]) -> list[str]:
    """Breaking changes from every released event type's schema to the current one, by type;
    a released type that is no longer there is one (its consumers would refuse it)."""
    problems: list[str] = []
    for ce_type in sorted(released):
        if ce_type not in current:
            problems.append(f"{ce_type}: released event type removed")
        else:
            found = check_backward_compatible(released[ce_type], current[ce_type])
            problems += [f"{ce_type}: {problem}" for problem in found]
    return problems


class _Comparer:
    """Walks both schemas side by side, resolving local $refs against each root."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.active: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        """Breaking changes between two sub-schemas found at `path`."""
        pair = (old.get("$ref", ""), new.get("$ref", ""))
        if pair == ("", ""):
            return self._compare_resolved(old, new, path)
        # Recursive models would loop forever without remembering the pairs being compared.
        if pair in self.active:
            return []
        self.active.add(pair)
        try:
            return self._compare_resolved(old, new, path)
        finally:
            self.active.discard(pair)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> list[str]:
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        old_branches, new_branches = _branches(old), _branches(new)
        if len(old_branches) == 1 and len(new_branches) == 1:
            return self._compare_single(old_branches[0], new_branches[0], path)
        problems: list[str] = []
        for branch in old_branches:
            branch = _resolve(branch, self.old_root)
            results = [self.compare(branch, other, path) for other in new_branches]
            if any(not result for result in results):
                continue
            same_type = [
                result
                for other, result in zip(new_branches, results, strict=True)
                if _types(_resolve(other, self.new_root)) == _types(branch)
            ]
            if same_type:
                closest: list[str] = min(same_type, key=len)
                problems.extend(closest)
            else:
                problems.append(f"{path}: type changed, {_describe(branch)} no longer accepted")
        return problems

    def _compare_single(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems = _compare_keywords(old, new, path)
        if problems and problems[0].endswith("no longer accepted"):
            return problems
        problems += self._compare_object(old, new, path)
        problems += self._compare_map(old, new, path)
        problems += self._compare_array(old, new, path)
        return problems

    def _compare_array(self, old: Schema, new: Schema, path: str) -> list[str]:
        """Tuple positions (prefixItems) and the items after them."""
        old_prefix: list[Schema] = old.get("prefixItems", [])
        new_prefix: list[Schema] = new.get("prefixItems", [])
        old_rest, new_rest = old.get("items", {}), new.get("items", {})
        problems: list[str] = []
        for at in range(max(len(old_prefix), len(new_prefix))):
            old_item = old_prefix[at] if at < len(old_prefix) else old_rest
            new_item = new_prefix[at] if at < len(new_prefix) else new_rest
            problems += self.compare(old_item, new_item, f"{path}[{at}]")
        # A closed tuple (maxItems = its positions) has no items after them to compare.
        closed = old.get("maxItems", len(old_prefix) + 1) <= len(old_prefix)
        if ("items" in old or "items" in new) and not closed:
            problems += self.compare(old_rest, new_rest, f"{path}[]")
        return problems

    def _compare_map(self, old: Schema, new: Schema, path: str) -> list[str]:
        """Objects used as maps (dict fields): what their keys and their values may be."""
        problems: list[str] = []
        if "propertyNames" in new:
            keys = old.get("propertyNames", {"type": "string"})  # JSON keys are strings
            problems += self.compare(keys, new["propertyNames"], f"{path}{{key}}")
        patterns = set(new.get("patternProperties", {})) - set(old.get("patternProperties", {}))
        if added := sorted(patterns):
            problems.append(f"{path}: keys newly restricted to pattern {', '.join(added)}")
        new_values = _map_values(new)
        if new_values is not None and old.get("additionalProperties") is not False:
            problems += self.compare(_map_values(old) or {}, new_values, f"{path}{{}}")
        return problems

    def _compare_object(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        for name in sorted(old_props):
            where = name if path == "(root)" else f"{path}.{name}"
            if name not in new_props:
                problems.append(f"{where}: property removed")
            else:
                problems += self.compare(old_props[name], new_props[name], where)
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            where = name if path == "(root)" else f"{path}.{name}"
            problems.append(f"{where}: property is newly required")
        if (
            new.get("additionalProperties") is False
            and old.get("additionalProperties") is not False
        ):
            problems.append(f"{path}: additionalProperties closed")
        return problems


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        ref: str = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        # Sibling keywords next to $ref (description, default) are kept on top.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _map_values(schema: Schema) -> Schema | None:
    """The schema every value of an undeclared key must match; None when any value goes."""
    values: list[Schema] = list(schema.get("patternProperties", {}).values())
    if isinstance(schema.get("additionalProperties"), dict):
        values.append(schema["additionalProperties"])
    if not values:
        return None
    return values[0] if len(values) == 1 else {"anyOf": values}


def _branches(schema: Schema) -> list[Schema]:
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            rest = {k: v for k, v in schema.items() if k != keyword}
            return [{**rest, **branch} for branch in schema[keyword]]
    return [schema]


def _types(schema: Schema) -> frozenset[str] | None:
    declared = schema.get("type")
    if declared is None:
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else schema["enum"]
            return frozenset(_json_type(v) for v in values)
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _describe(schema: Schema) -> str:
    types = _types(schema)
    return "/".join(sorted(types)) if types else "any"


def _compare_keywords(old: Schema, new: Schema, path: str) -> list[str]:
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        accepted = new_types | ({"integer"} if "number" in new_types else set())
        if old_types is None or not old_types <= accepted:
            change = f"type changed from {_describe(old)} to {_describe(new)}"
            return [f"{path}: {change}, no longer accepted"]
    old_values = _allowed_values(old)
    new_values = _allowed_values(new)
    if new_values is not None:
        if old_values is None:
            problems.append(f"{path}: values newly restricted to {sorted(map(str, new_values))}")
        else:
            removed = [v for v in old_values if v not in new_values]
            if removed:
                problems.append(f"{path}: enum value(s) removed: {', '.join(map(repr, removed))}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            problems.append(f"{path}: {keyword} lowered to {new[keyword]} (was {old.get(keyword)})")
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            problems.append(f"{path}: {keyword} raised to {new[keyword]} (was {old.get(keyword)})")
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        problems.append(f"{path}: items newly required to be unique")
    for keyword in ("pattern", "format", "multipleOf"):
        if keyword in new and new[keyword] != old.get(keyword):
            problems.append(
                f"{path}: {keyword} changed to {new[keyword]!r} (was {old.get(keyword)!r})"
            )
    return problems


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None
