"""cProfile around a measured section, summarised by library so owners see where time goes."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections import defaultdict

from bench.results import RESULTS_DIR

# First match wins: the file path fragment that tells which layer a function belongs to.
AREAS: tuple[tuple[str, str], ...] = (
    ("cloudevents", "cloudevents (decode attributes)"),
    ("dateutil", "cloudevents (decode attributes)"),
    ("dunlin_events", "dunlin_events"),
    ("pydantic", "pydantic (validation)"),
    ("aiokafka", "aiokafka (fetch/parse)"),
    ("kafka", "aiokafka (fetch/parse)"),
    ("sqlalchemy", "sqlalchemy"),
    ("asyncpg", "asyncpg (driver)"),
    ("opentelemetry", "opentelemetry"),
    ("dunlin_platform", "dunlin_platform"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
    ("uuid", "uuid"),
)


def area_of(filename: str, function: str) -> str:
    """Which layer a profiled function belongs to (C methods name their type, e.g. asyncpg's)."""
    where = f"{filename}:{function}"
    for fragment, area in AREAS:
        if fragment in where:
            return area
    return "other" if filename != "~" else "builtins (C calls)"


class Profiler:
    """Idempotent start/stop around a section; report() prints and saves the stats."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._profile = cProfile.Profile()
        self._running = False

    def start(self) -> None:
        if not self._running:
            self._profile.enable()
            self._running = True

    def stop(self) -> None:
        if self._running:
            self._profile.disable()
            self._running = False

    def report(self, top: int = 25) -> None:
        """Print self time per layer and the top functions; save a .pstats for snakeviz etc."""
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.pstats"
        self._profile.dump_stats(str(path))
        stats = pstats.Stats(self._profile)
        by_area: dict[str, float] = defaultdict(float)
        raw = stats.stats  # type: ignore[attr-defined]
        for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
            by_area[area_of(filename, func)] += tottime
        total = sum(by_area.values()) or 1.0
        print(f"\n== profile: {self.name} (self time by layer; cProfile slows code ~2x) ==")
        for area, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
            print(f"  {area:<34} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
        out = io.StringIO()
        pstats.Stats(self._profile, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue())
        print(f"  saved {path}")
