"""Which model scores now: the active version from the database, or the points card."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_platform.http.health import NotReady
from risk import metrics
from risk.db import ModelRow
from risk.domain import boosted
from risk.domain.learned import LearnedModel, ModelLoadError
from risk.scoring import PointsCard, Scorer

log = logging.getLogger(__name__)


def load_model(version: str, params: Mapping[str, Any]) -> LearnedModel | boosted.BoostedModel:
    """A stored version as a scorer: params["kind"] is "gbm" or absent (logistic)."""
    if params.get("kind") == boosted.KIND:
        return boosted.BoostedModel.from_params(version, params)
    return LearnedModel.from_params(version, params)


class ModelRegistry:
    """Holds the scorer in use; a version that fails to load leaves the previous one active."""

    def __init__(self) -> None:
        self.current: Scorer = PointsCard()
        self.version: str = PointsCard.version
        self.load_error: str | None = None
        self._publish_state()

    def _publish_state(self) -> None:
        metrics.model_state.values.clear()
        metrics.model_state.set(1, kind="active", version=self.version)
        metrics.model_state.set(1.0 if self.load_error else 0.0, kind="load_failed", version="")

    def use(self, version: str | None, params: dict[str, object] | None) -> None:
        """Switch to a stored version (None: the points card), or keep the current one."""
        if version is None or params is None:
            self.current, self.version, self.load_error = PointsCard(), PointsCard.version, None
        elif version != self.version:
            try:
                self.current = load_model(version, params)
                self.version, self.load_error = version, None
            except ModelLoadError as exc:
                if self.load_error is None or version not in self.load_error:
                    metrics.model_load_failures.add(1, {"version": version})
                    log.error(
                        "model %s failed to load; %s stays active: %s", version, self.version, exc
                    )
                self.load_error = f"{exc}; {self.version} stays active"
        self._publish_state()

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Read the active version and switch to it."""
        async with sessionmaker() as session:
            row = await session.scalar(select(ModelRow).where(ModelRow.active))
        self.use(row.version if row else None, row.params if row else None)

    async def run(
        self, sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event, interval: float
    ) -> None:
        """Refresh until stopped; a database fault just waits for the next round."""
        while not stop.is_set():
            try:
                await self.refresh(sessionmaker)
            except Exception as exc:  # the loop must outlive a database outage
                log.warning("model refresh failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def check(self) -> None:
        """Readiness: fails (with the reason) while a model version could not be loaded."""
        if self.load_error:
            raise NotReady(self.load_error)
