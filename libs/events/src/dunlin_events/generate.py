"""Write (or --check) the committed JSON Schemas and the AsyncAPI document."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dunlin_events import asyncapi, yamlout
from dunlin_events.base import all_events

ROOT = Path(__file__).resolve().parents[2]
CURRENT = ROOT / "schemas" / "current"
RELEASED = ROOT / "schemas" / "released"
ASYNCAPI = ROOT / "asyncapi.yaml"


def to_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def event_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (serialization mode) of every event, by CloudEvents type."""
    return {cls.ce_type(): cls.model_json_schema(mode="serialization") for cls in all_events()}


def expected_files() -> dict[Path, str]:
    """Every generated file with the content it must have."""
    files = {CURRENT / f"{name}.json": to_json(s) for name, s in event_schemas().items()}
    files[ASYNCAPI] = yamlout.dump(asyncapi.build())
    return files


def released_additions(current: dict[Path, str]) -> dict[Path, str]:
    """Baselines for versions never released; existing baselines are never overwritten."""
    additions = {}
    for path, content in current.items():
        if path.parent == CURRENT and not (RELEASED / path.name).exists():
            additions[RELEASED / path.name] = content
    return additions


def stale_files() -> list[Path]:
    """Generated files that are missing, different, or no longer generated."""
    expected = expected_files()
    stale = [p for p, text in expected.items() if not p.exists() or p.read_text() != text]
    stale += sorted(released_additions(expected))
    if CURRENT.exists():
        stale += sorted(p for p in CURRENT.glob("*.json") if p not in expected)
    return stale


def write() -> list[Path]:
    """Bring every generated file up to date; returns the paths written or removed."""
    expected = expected_files()
    changed = stale_files()
    for path, text in {**expected, **released_additions(expected)}.items():
        if path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in changed:
        if path.parent == CURRENT and path not in expected:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: `python -m dunlin_events.generate [--check]`."""
    parser = argparse.ArgumentParser(prog="python -m dunlin_events.generate")
    parser.add_argument("--check", action="store_true", help="fail if any file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python -m dunlin_events.generate", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
