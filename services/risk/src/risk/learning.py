"""Training and backtesting the learned model with scikit-learn (offline; never at import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from risk.domain import backtest as bt
from risk.domain import synthetic
from risk.domain.boosted import BoostedModel, Tree
from risk.domain.learned import FEATURES, LearnedModel, vectorize
from risk.domain.model import assess
from risk.domain.signals import Measures, measure

Kind = Literal["logistic", "gbm"]
# Platform history: an invoice is *bad* when it was paid more than LATE_DAYS after its due
# date, or was still unpaid UNPAID_DAYS after it; an unpaid invoice younger than that has no
# known outcome yet and is left out.
LATE_DAYS = 30
UNPAID_DAYS = 60
MIN_EXAMPLES = 200
MIN_PER_CLASS = 20
TEST_SHARE = 0.25


class Probabilistic(Protocol):
    """A learned model: a version and a calibrated probability per account."""

    @property
    def version(self) -> str: ...

    def probability(self, measures: Measures) -> float: ...

    def to_params(self) -> dict[str, Any]: ...


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


def fit_gbm(data: Dataset, *, version: str, seed: int = 0) -> BoostedModel:
    """Gradient boosting (HistGradientBoostingClassifier) calibrated by CalibratedClassifierCV.

    The trees are fitted on 75 % of the examples and Platt-scaled on the other 25 % (the
    frozen booster is not refitted); a least-squares logistic surrogate of the calibrated
    log-odds provides the per-signal reasons (see domain/boosted.py).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    x, y = data.matrix()
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(len(y) * 0.75)
    fit_rows, calibration_rows = order[:cut], order[cut:]
    if any(len(set(y[rows].tolist())) < 2 for rows in (fit_rows, calibration_rows)):
        raise ValueError("training needs both good and bad outcomes (in both parts)")
    booster = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    ).fit(x[fit_rows], y[fit_rows])
    # ensemble=False: one calibrator on all held-out rows (the frozen booster is not refitted).
    calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method="sigmoid", ensemble=False)
    calibrated.fit(x[calibration_rows], y[calibration_rows])
    platt = calibrated.calibrated_classifiers_[0].calibrators[0]
    a, b = float(platt.a_), float(platt.b_)
    logits = -(a * booster.decision_function(x) + b)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    solution, *_ = np.linalg.lstsq(design, logits, rcond=None)
    residual = logits - design @ solution
    spread = float(((logits - logits.mean()) ** 2).sum()) or 1.0
    return BoostedModel(
        version=version,
        features=FEATURES,
        baseline=float(np.ravel(booster._baseline_prediction)[0]),
        trees=tuple(_tree(predictors[0].nodes) for predictors in booster._predictors),
        calibration=(a, b),
        surrogate_coef=tuple(float(v) for v in solution[1:]),
        surrogate_mean=tuple(float(v) for v in mean),
        surrogate_scale=tuple(float(v) for v in scale),
        surrogate_r2=1.0 - float((residual**2).sum()) / spread,
    )


def _tree(nodes: Any) -> Tree:
    """Copy one scikit-learn TreePredictor's node array (numerical splits only)."""
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(
        feature=tuple(-1 if leaf[i] else int(f) for i, f in enumerate(nodes["feature_idx"])),
        threshold=tuple(float(v) for v in nodes["num_threshold"]),
        left=tuple(int(v) for v in nodes["left"]),
        right=tuple(int(v) for v in nodes["right"]),
        value=tuple(float(v) for v in nodes["value"]),
    )


def train(data: Dataset, *, kind: Kind, version: str) -> Probabilistic:
    """Fit a model of the given kind."""
    return fit_gbm(data, version=version) if kind == "gbm" else fit(data, version=version)


@dataclass(frozen=True)
class InvoiceOutcome:
    """A platform invoice with the account's signals as of its issue date (from history)."""

    issue_date: dt.date
    due_date: dt.date
    settled_on: dt.date | None
    measures: Measures


def label_invoice(invoice: InvoiceOutcome, reference: dt.date) -> int | None:
    """1 if paid > LATE_DAYS late or unpaid UNPAID_DAYS after due; None if not known yet."""
    if invoice.settled_on is not None:
        return int((invoice.settled_on - invoice.due_date).days > LATE_DAYS)
    if (reference - invoice.due_date).days >= UNPAID_DAYS:
        return 1
    return None


def platform_dataset(invoices: Iterable[InvoiceOutcome], reference: dt.date) -> Dataset:
    """Labelled examples from the platform's own invoices, oldest issue date first."""
    measures, labels = [], []
    for invoice in sorted(invoices, key=lambda i: i.issue_date):
        outcome = label_invoice(invoice, reference)
        if outcome is not None:
            measures.append(invoice.measures)
            labels.append(outcome)
    return Dataset(measures, labels)


def too_little(data: Dataset) -> str | None:
    """Why a dataset is too small to train on, or None when it is enough."""
    bad = sum(data.labels)
    good = len(data.labels) - bad
    if len(data.labels) < MIN_EXAMPLES or min(bad, good) < MIN_PER_CLASS:
        return (
            f"too little platform history: {len(data.labels)} invoices with a known outcome"
            f" ({bad} bad, {good} good); at least {MIN_EXAMPLES} with {MIN_PER_CLASS} of each"
            " are needed"
        )
    return None


def split_in_time(data: Dataset, test_share: float = TEST_SHARE) -> tuple[Dataset, Dataset]:
    """The oldest examples to train on, the newest to test on (data is in time order)."""
    cut = int(len(data.labels) * (1 - test_share))
    return (
        Dataset(data.measures[:cut], data.labels[:cut]),
        Dataset(data.measures[cut:], data.labels[cut:]),
    )


def platform_backtest(
    data: Dataset, *, kind: Kind, version: str
) -> tuple[Probabilistic, list[Evaluation]]:
    """Train on the older 75 % of the platform's invoices, test on the newer 25 %."""
    train_set, test_set = split_in_time(data)
    model = train(train_set, kind=kind, version=version)
    return model, evaluate(model, test_set)


@dataclass(frozen=True)
class Evaluation:
    """How one scorer ranks and predicts a labelled set."""

    name: str
    auc: float
    brier: float | None
    calibration_error: float | None
    deciles: list[bt.Decile] = field(default_factory=list)


def evaluate(model: Probabilistic, data: Dataset) -> list[Evaluation]:
    """The learned model against the points card and the naive 'currently overdue' rule."""
    _, y = data.matrix()
    learned = np.array([model.probability(m) for m in data.measures])
    card = np.array([float(assess(m).score) for m in data.measures])
    naive = np.array([m.get("OVERDUE_DAYS", 0.0) for m in data.measures])
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


def synthetic_backtest(
    accounts: int, *, seed: int = 7, kind: Kind = "logistic"
) -> tuple[Probabilistic, list[Evaluation]]:
    """Train on one synthetic portfolio's snapshot, test on an independent one."""
    train_set = synthetic_dataset(synthetic.portfolio(accounts, seed=seed), synthetic.SNAPSHOT_DAY)
    test_set = synthetic_dataset(
        synthetic.portfolio(accounts, seed=seed + 1), synthetic.SNAPSHOT_DAY
    )
    model = train(train_set, kind=kind, version=f"synthetic-{seed}")
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
