"""`python -m risk model train --source platform`: from the service's own invoices and history."""

from __future__ import annotations

import argparse
import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from risk import cli
from risk.db import ModelRow, PredictionRow, ScoreHistoryRow
from risk.runtime import RiskRuntime

from .support import unique

ISSUED = dt.date(2031, 1, 1)


def _args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "source": "platform",
        "kind": "logistic",
        "as_of": dt.date(2032, 1, 1),
        "accounts": 300,
        "seed": 7,
        "version": unique("lr-platform"),
        "activate": False,
    }
    return argparse.Namespace(**(values | overrides))


async def _seed_history(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """300 invoices; accounts that were late when an invoice was issued pay it late."""
    history: list[dict[str, object]] = []
    predictions: list[dict[str, object]] = []
    for i in range(300):
        account_id, late = unique("train-acc"), i % 3 == 0
        issue = ISSUED + dt.timedelta(days=i)
        due = issue + dt.timedelta(days=30)
        measures = {"LATE_SHARE": 0.9 if late else 0.05, "AVG_DAYS_LATE": 40.0 if late else 1.0}
        history.append(
            {
                "account_id": account_id,
                "score": 50 if late else 8,
                "tier": "medium" if late else "low",
                "previous_score": None,
                "reasons": [],
                "measures": measures,
                "model_version": "transparent-v1",
                "as_of": issue - dt.timedelta(days=1),
                "assessed_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
            }
        )
        settled = due + dt.timedelta(days=45 if late and i % 2 else 2)
        predictions.append(
            {
                "invoice_id": unique("train-inv"),
                "account_id": account_id,
                "issue_date": issue,
                "due_date": due,
                "predicted_on": due,
                "settled_on": settled if i % 7 else None,  # some never paid: bad too
                "error_days": None,
                "predicted_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
            }
        )
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(ScoreHistoryRow), history)
        await session.execute(insert(PredictionRow), predictions)


async def test_training_from_the_platform_history_and_the_fallback_when_too_little(
    runtime: RiskRuntime, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    early = _args(as_of=dt.date(2000, 1, 1), accounts=300, kind="gbm", version=unique("gbm"))
    report = await cli._train(runtime, early)
    assert "too little platform history" in report
    assert "training on the synthetic portfolio instead" in report
    await _seed_history(sessionmaker)
    args = _args()
    report = await cli._train(runtime, args)
    assert "too little" not in report
    async with sessionmaker() as session:
        row = await session.scalar(select(ModelRow).where(ModelRow.version == args.version))
        fallback = await session.scalar(select(ModelRow).where(ModelRow.version == early.version))
    assert row is not None
    assert row.trained_on.startswith("platform history to 2032-01-01")
    assert row.metrics["backtest"][0]["auc"] > 0.7
    assert fallback is not None
    assert fallback.kind == "gbm"
    assert fallback.trained_on.startswith("synthetic portfolio")
