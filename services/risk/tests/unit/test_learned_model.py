"""The learned model: stored parameters, explanations, load failures and the backtest."""

from __future__ import annotations

import pytest

from risk import learning
from risk.domain import synthetic
from risk.domain.learned import FEATURES, LearnedModel, ModelLoadError
from risk.registry import ModelRegistry

ACCOUNTS = 900


@pytest.fixture(scope="module")
def backtest() -> tuple[LearnedModel, list[learning.Evaluation]]:
    model, evaluations = learning.synthetic_backtest(ACCOUNTS, seed=11)
    assert isinstance(model, LearnedModel)
    return model, evaluations


def test_the_synthetic_backtest_beats_the_naive_overdue_baseline(
    backtest: tuple[LearnedModel, list[learning.Evaluation]],
) -> None:
    _, (learned, card, naive) = backtest
    assert learned.auc > naive.auc + 0.05
    assert card.auc > naive.auc
    assert learned.deciles[0].lift > 3
    assert learned.calibration_error is not None
    assert learned.calibration_error < 0.05


def test_a_stored_model_scores_the_same_after_a_round_trip(
    backtest: tuple[LearnedModel, list[learning.Evaluation]],
) -> None:
    model, _ = backtest
    again = LearnedModel.from_params(model.version, model.to_params())
    account = synthetic.portfolio(3, seed=5)[0]
    measures = learning.synthetic_dataset([account], synthetic.SNAPSHOT_DAY).measures[0]
    assert again.assess(measures) == model.assess(measures)
    assert all(r.code in FEATURES for r in again.assess(measures).reasons)


def test_an_insolvency_notice_is_explained_as_such_by_the_learned_model(
    backtest: tuple[LearnedModel, list[learning.Evaluation]],
) -> None:
    model, _ = backtest
    params = model.to_params()
    params["coef"][FEATURES.index("OVERDUE_DAYS")] = 2.0
    explained = LearnedModel.from_params("x", params).assess({"OVERDUE_DAYS": 90.0})
    assert explained.reasons[0].code == "OVERDUE_DAYS"
    assert explained.reasons[0].contribution > 0


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"features": ["NOPE"], "coef": [1], "intercept": 0, "mean": [0], "scale": [1]},
        {"features": ["LATE_SHARE"], "coef": [1, 2], "intercept": 0, "mean": [0], "scale": [1]},
        {"features": ["LATE_SHARE"], "coef": ["x"], "intercept": 0, "mean": [0], "scale": [1]},
        {"features": ["LATE_SHARE"], "coef": [1], "intercept": 0, "mean": [0], "scale": [0]},
    ],
)
def test_malformed_parameters_do_not_load(params: dict[str, object]) -> None:
    with pytest.raises(ModelLoadError):
        LearnedModel.from_params("broken", params)


def test_a_model_that_fails_to_load_keeps_the_previous_one_active(
    backtest: tuple[LearnedModel, list[learning.Evaluation]],
) -> None:
    model, _ = backtest
    registry = ModelRegistry()
    registry.use("good", model.to_params())
    registry.use("broken", {"features": ["NOPE"]})
    assert registry.version == "good"
    assert registry.load_error is not None
    assert "good stays active" in registry.load_error
    registry.use(None, None)
    assert registry.version == "transparent-v1"
    assert registry.load_error is None
