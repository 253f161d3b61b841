"""One benchmark result per row; the table printed at the end and the JSON written beside it."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Goal = Literal["min", "max", "info"]
RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Result:
    """A measured number, its target (if any) and how it was obtained."""

    name: str
    value: float | None
    unit: str
    target: float | None = None
    goal: Goal = "info"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Measured / target, so above 1.0 is good for a minimum and bad for a maximum."""
        if self.value is None or not self.target:
            return None
        return self.value / self.target

    @property
    def verdict(self) -> str:
        """PASS, FAIL, SKIP (not measured) or '-' (reference number without a target)."""
        if self.value is None:
            return "SKIP"
        if self.target is None or self.goal == "info":
            return "-"
        ok = self.value >= self.target if self.goal == "min" else self.value <= self.target
        return "PASS" if ok else "FAIL"


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _target(result: Result) -> str:
    if result.target is None:
        return ""
    sign = ">=" if result.goal == "min" else "<="
    return f"{sign} {_number(result.target, result.unit)}"


def render(results: Sequence[Result]) -> str:
    """A plain-text table: name, measured, unit, target, ratio, verdict, note."""
    header = ("benchmark", "measured", "unit", "target", "ratio", "verdict", "note")
    rows = [
        (
            r.name,
            _number(r.value, r.unit),
            r.unit,
            _target(r),
            "" if r.ratio is None else f"{r.ratio:.2f}",
            r.verdict,
            r.note,
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header) - 1)]
    right = {1, 4}  # numbers read better right-aligned

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        return "  ".join([*cells, row[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths) + "  " + "-" * 4
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def write_json(results: Sequence[Result], context: dict[str, object]) -> Path:
    """Write results/latest.json (git-ignored) and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "latest.json"
    document = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "context": context,
        "results": [{**asdict(r), "ratio": r.ratio, "verdict": r.verdict} for r in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
