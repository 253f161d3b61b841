"""Every test builds events strictly: validated, and equal to the unvalidated fast path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dunning.domain import build


@pytest.fixture(autouse=True, scope="session")
def _strict_events() -> Iterator[None]:
    build.STRICT = True
    yield
    build.STRICT = False
