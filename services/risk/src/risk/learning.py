"""Training and backtesting the learned model with scikit-learn (offline; never at import)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from risk.domain import backtest as bt
from risk.domain import synthetic
from risk.domain.learned import FEATURES, LearnedModel, vectorize
from risk.domain.model import assess
from risk.domain.signals import Measures, measure


@dataclass(frozen=True)
class Dataset:
    """Measures per example and whether it went bad within the horizon."""

    measures: list[Measures]
    labels: list[int]

    def matrix(self) -> tuple[bt.Floats, bt.Floats]:
        """Model inputs and labels as arrays."""
        x = np.array([vectorize(m) for m in self.measures], dtype=np.float64)
        return x, np.array(self.labels, dtype=np.float64)


def synthetic_dataset(accounts: Sequence[synthetic.SyntheticAccount], day: int) -> Dataset:
    """Snapshot every account on `day`, labelled by what happens in the next 90 days."""
    measures, labels = [], []
    for account in accounts:
        outcome = synthetic.label(account, day)
        if outcome is not None:
            measures.append(measure(synthetic.state_at(account, day), day))
            labels.append(outcome)
    return Dataset(measures, labels)


def fit(data: Dataset, *, version: str, c: float = 1.0) -> LearnedModel:
    """Fit a standardised L2 logistic regression (log loss: probabilities come calibrated)."""
    from sklearn.linear_model import LogisticRegression

    x, y = data.matrix()
    if len(set(y.tolist())) < 2:
        raise ValueError("training needs both good and bad outcomes")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y)
    return LearnedModel(
        version=version,
        features=FEATURES,
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
    )


@dataclass(frozen=True)
class Evaluation:
    """How one scorer ranks and predicts a labelled set."""

    name: str
    auc: float
    brier: float | None
    calibration_error: float | None
    deciles: list[bt.Decile] = field(default_factory=list)


def evaluate(model: LearnedModel, data: Dataset) -> list[Evaluation]:
    """The learned model against the points card and the naive 'currently overdue' rule."""
    _, y = data.matrix()
    learned = np.array([model.probability(m) for m in data.measures])
    card = np.array([float(assess(m).score) for m in data.measures])
    naive = np.array([m["OVERDUE_DAYS"] for m in data.measures])
    return [
        Evaluation(
            f"learned {model.version}",
            bt.auc(y, learned),
            bt.brier(y, learned),
            bt.calibration_error(y, learned),
            bt.deciles(y, learned, learned),
        ),
        Evaluation("transparent points card", bt.auc(y, card), None, None, bt.deciles(y, card)),
        Evaluation(
            "naive: days currently overdue", bt.auc(y, naive), None, None, bt.deciles(y, naive)
        ),
    ]


def synthetic_backtest(accounts: int, *, seed: int = 7) -> tuple[LearnedModel, list[Evaluation]]:
    """Train on one synthetic portfolio's snapshot, test on an independent one."""
    train_set = synthetic_dataset(synthetic.portfolio(accounts, seed=seed), synthetic.SNAPSHOT_DAY)
    test_set = synthetic_dataset(
        synthetic.portfolio(accounts, seed=seed + 1), synthetic.SNAPSHOT_DAY
    )
    model = fit(train_set, version=f"synthetic-{seed}")
    return model, evaluate(model, test_set)


def render(evaluations: Sequence[Evaluation], *, examples: int | None = None) -> str:
    """A plain-text backtest report."""
    lines = [f"examples: {examples}" if examples is not None else "backtest"]
    for e in evaluations:
        extra = ""
        if e.brier is not None and e.calibration_error is not None:
            extra = f"  brier {e.brier:.4f}  calibration error {e.calibration_error:.4f}"
        lines.append(f"{e.name}: AUC {e.auc:.3f}{extra}")
        lines.append("  decile  accounts  predicted  observed  lift")
        for d in e.deciles:
            lines.append(
                f"  {d.decile:>6}  {d.accounts:>8}  {d.mean_predicted:>9.3f}"
                f"  {d.observed_rate:>8.3f}  {d.lift:>4.2f}"
            )
    return "\n".join(lines)


def as_json(evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """The evaluations as JSON-ready dicts (stored with a model version)."""
    return [asdict(e) for e in evaluations]
