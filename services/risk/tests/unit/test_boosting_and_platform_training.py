"""Gradient boosting (stored as plain trees, calibrated, explained by a logistic surrogate) and
training data built from the platform's own invoices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from risk import learning
from risk.domain import synthetic
from risk.domain.boosted import BoostedModel
from risk.domain.learned import FEATURES, ModelLoadError
from risk.registry import ModelRegistry, load_model

ACCOUNTS = 900


@pytest.fixture(scope="module")
def boosted() -> tuple[BoostedModel, list[learning.Evaluation]]:
    model, evaluations = learning.synthetic_backtest(ACCOUNTS, seed=11, kind="gbm")
    assert isinstance(model, BoostedModel)
    return model, evaluations


def test_exported_trees_score_exactly_as_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = learning.synthetic_dataset(synthetic.portfolio(400, seed=3), synthetic.SNAPSHOT_DAY)
    x, y = data.matrix()
    booster = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)
    trees = [learning._tree(p[0].nodes) for p in booster._predictors]
    baseline = float(np.ravel(booster._baseline_prediction)[0])
    ours = np.array([baseline + sum(t.predict(row) for t in trees) for row in x.tolist()])
    assert np.allclose(ours, booster.decision_function(x))


def test_calibrated_boosting_beats_the_naive_baseline_and_is_calibrated(
    boosted: tuple[BoostedModel, list[learning.Evaluation]],
) -> None:
    model, (learned, _, naive) = boosted
    assert learned.auc > naive.auc + 0.05
    assert learned.calibration_error is not None
    assert learned.calibration_error < 0.06
    assert 0 < model.surrogate_r2 <= 1


def test_a_stored_boosted_model_round_trips_and_explains_with_known_signals(
    boosted: tuple[BoostedModel, list[learning.Evaluation]],
) -> None:
    model, _ = boosted
    again = load_model(model.version, model.to_params())
    assert isinstance(again, BoostedModel)
    data = learning.synthetic_dataset(synthetic.portfolio(60, seed=5), synthetic.SNAPSHOT_DAY)
    riskiest = max(data.measures, key=model.probability)
    assessment = again.assess(riskiest)
    assert assessment == model.assess(riskiest)
    assert assessment.score == round(100 * model.probability(riskiest))
    assert assessment.reasons
    assert all(r.code in FEATURES for r in assessment.reasons)
    assert assessment.reasons[0].contribution > 0  # what makes it risky comes first


def test_a_malformed_boosted_model_keeps_the_previous_one(
    boosted: tuple[BoostedModel, list[learning.Evaluation]],
) -> None:
    model, _ = boosted
    params = model.to_params()
    params["trees"][0]["left"][0] = 0  # a cycle: the walk would never reach a leaf
    with pytest.raises(ModelLoadError):
        load_model("gbm-broken", params)
    registry = ModelRegistry()
    registry.use("gbm-broken", params)
    assert registry.version == "transparent-v1"
    assert registry.load_error is not None


DUE = dt.date(2025, 3, 1)


def _invoice(
    settled_after: int | None, measures: dict[str, float] | None = None
) -> learning.InvoiceOutcome:
    settled = DUE + dt.timedelta(days=settled_after) if settled_after is not None else None
    return learning.InvoiceOutcome(DUE - dt.timedelta(days=30), DUE, settled, measures or {})


@pytest.mark.parametrize(
    ("settled_after", "reference_after", "label"),
    [
        (0, 10, 0),  # paid on time
        (30, 40, 0),  # 30 days late is not bad yet
        (31, 40, 1),  # paid more than 30 days late
        (None, 59, None),  # unpaid, outcome not known yet
        (None, 60, 1),  # unpaid 60 days after due
    ],
)
def test_the_platform_label_is_late_over_30_days_or_unpaid_60_days_after_due(
    settled_after: int | None, reference_after: int, label: int | None
) -> None:
    reference = DUE + dt.timedelta(days=reference_after)
    assert learning.label_invoice(_invoice(settled_after), reference) == label


def test_too_little_platform_history_says_why_and_enough_trains_in_time_order() -> None:
    reference = DUE + dt.timedelta(days=200)
    few = learning.platform_dataset([_invoice(0), _invoice(45), _invoice(None)], reference)
    message = learning.too_little(few)
    assert message is not None
    assert "3 invoices" in message
    assert "2 bad" in message
    # Enough: accounts that were paying late keep paying late.
    rng = np.random.default_rng(1)
    invoices = []
    for i in range(400):
        late = float(rng.random() < 0.3)
        measures = {"LATE_SHARE": late * 0.8 + 0.1 * rng.random(), "AVG_DAYS_LATE": 25 * late}
        issue = DUE - dt.timedelta(days=400 - i)
        bad_now = late and rng.random() < 0.8
        settled = issue + dt.timedelta(days=30 + (45 if bad_now else 2))
        invoices.append(
            learning.InvoiceOutcome(issue, issue + dt.timedelta(days=30), settled, measures)
        )
    data = learning.platform_dataset(reversed(invoices), reference)
    assert learning.too_little(data) is None
    _older, newer = learning.split_in_time(data)
    assert len(newer.labels) == 100
    for kind in ("logistic", "gbm"):
        _model, (learned, *_) = learning.platform_backtest(data, kind=kind, version=kind)
        assert learned.auc > 0.75
