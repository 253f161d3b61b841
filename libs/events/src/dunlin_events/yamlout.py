"""A tiny deterministic YAML writer for JSON-shaped data (no PyYAML needed)."""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# Words YAML 1.1 readers turn into booleans or null; such keys must stay quoted.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def dump(value: Any) -> str:
    """Block-style YAML with sorted keys, double-quoted strings and a trailing newline."""
    return "\n".join(_lines(value, 0)) + "\n"


def _key(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED:
        return key
    return json.dumps(key)


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML flow scalars, and quoting every string avoids YAML's
    # type guessing ("no", "1.0", "2024-01-01" stay strings).
    return json.dumps(value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines: list[str] = []
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_key(key)}:")
                lines.extend(_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            nested = _lines(item, indent + 2)
            nested[0] = f"{pad}- {nested[0].lstrip()}"
            lines.extend(nested)
        return lines
    return [f"{pad}{_scalar(value)}"]
