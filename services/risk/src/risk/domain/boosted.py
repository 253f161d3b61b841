"""A gradient-boosted model over the same signals, stored as plain numbers (no pickles).

The trees are scikit-learn's HistGradientBoostingClassifier trees copied node by node
(feature, threshold, children, leaf value); the raw score (log-odds) is calibrated with
Platt scaling fitted by CalibratedClassifierCV on held-out data: P = 1 / (1 + exp(a·raw + b)).

Explanations come from a *logistic surrogate*: a linear model fitted (least squares) to the
calibrated log-odds of the boosted model on the training set, over the standardised inputs.
Each reason's contribution is how many points the score would lose if that signal's
surrogate term were at the training mean (as for the logistic model); the surrogate's fit
(R²) is stored with the version, so a reader knows how faithful the explanations are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from risk.domain.learned import FEATURES, LABELS, ModelLoadError, sigmoid, vectorize
from risk.domain.model import Assessment, Reason, recommended_actions, tier_of
from risk.domain.signals import Measures

KIND = "gbm"
MAX_REASONS = 8


@dataclass(frozen=True)
class Tree:
    """One regression tree: per node, feature (-1 for a leaf), threshold, children, value."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def predict(self, x: Sequence[float]) -> float:
        """The leaf value reached by x (x[feature] <= threshold goes left)."""
        node = 0
        feature, threshold = self.feature, self.threshold
        while feature[node] >= 0:
            node = self.left[node] if x[feature[node]] <= threshold[node] else self.right[node]
        return self.value[node]


def _tree(raw: Mapping[str, Any], features: int) -> Tree:
    tree = Tree(
        tuple(int(v) for v in raw["feature"]),
        tuple(float(v) for v in raw["threshold"]),
        tuple(int(v) for v in raw["left"]),
        tuple(int(v) for v in raw["right"]),
        tuple(float(v) for v in raw["value"]),
    )
    size = len(tree.feature)
    columns = (tree.threshold, tree.left, tree.right, tree.value)
    if size == 0 or any(len(c) != size for c in columns):
        raise ValueError("tree columns differ in length")
    for node in range(size):
        if tree.feature[node] >= 0:
            if tree.feature[node] >= features:
                raise ValueError(f"node {node} splits on an unknown feature")
            # Children come after their parent: no cycles, every walk ends at a leaf.
            if not (node < tree.left[node] < size and node < tree.right[node] < size):
                raise ValueError(f"node {node} has children out of range")
        elif not math.isfinite(tree.value[node]):
            raise ValueError(f"leaf {node} is not finite")
    return tree


@dataclass(frozen=True)
class BoostedModel:
    """Calibrated gradient boosting with a logistic surrogate for the reasons."""

    version: str
    features: tuple[str, ...]
    baseline: float
    trees: tuple[Tree, ...]
    calibration: tuple[float, float]
    surrogate_coef: tuple[float, ...]
    surrogate_mean: tuple[float, ...]
    surrogate_scale: tuple[float, ...]
    surrogate_r2: float

    @classmethod
    def from_params(cls, version: str, params: Mapping[str, Any]) -> BoostedModel:
        """Validate stored parameters; ModelLoadError when they cannot score."""
        try:
            features = tuple(str(code) for code in params["features"])
            surrogate = params["surrogate"]
            numbers = [tuple(float(v) for v in surrogate[k]) for k in ("coef", "mean", "scale")]
            trees = tuple(_tree(t, len(features)) for t in params["trees"])
            a, b = (float(v) for v in params["calibration"])
            baseline = float(params["baseline"])
            r2 = float(surrogate["r2"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"model {version}: malformed parameters ({exc})") from exc
        unknown = [code for code in features if code not in LABELS]
        if unknown:
            raise ModelLoadError(f"model {version}: unknown features {unknown}")
        if not features or not trees or any(len(n) != len(features) for n in numbers):
            raise ModelLoadError(f"model {version}: parameter lengths do not match")
        values = [a, b, baseline, r2, *(v for n in numbers for v in n)]
        if not all(math.isfinite(v) for v in values) or min(numbers[2]) <= 0:
            raise ModelLoadError(f"model {version}: non-finite or non-positive parameters")
        coef, mean, scale = numbers
        return cls(version, features, baseline, trees, (a, b), coef, mean, scale, r2)

    def to_params(self) -> dict[str, Any]:
        """The JSON stored in the models table."""
        return {
            "kind": KIND,
            "features": list(self.features),
            "baseline": self.baseline,
            "trees": [
                {
                    "feature": list(t.feature),
                    "threshold": list(t.threshold),
                    "left": list(t.left),
                    "right": list(t.right),
                    "value": list(t.value),
                }
                for t in self.trees
            ],
            "calibration": list(self.calibration),
            "surrogate": {
                "coef": list(self.surrogate_coef),
                "mean": list(self.surrogate_mean),
                "scale": list(self.surrogate_scale),
                "r2": self.surrogate_r2,
            },
        }

    def raw(self, x: Sequence[float]) -> float:
        """The boosted log-odds before calibration."""
        return self.baseline + sum(tree.predict(x) for tree in self.trees)

    def logit(self, x: Sequence[float]) -> float:
        """Calibrated log-odds: Platt scaling of the raw score."""
        a, b = self.calibration
        return -(a * self.raw(x) + b)

    def probability(self, measures: Measures) -> float:
        """Calibrated probability that the account goes bad within the training horizon."""
        return sigmoid(self.logit(vectorize(measures, self.features)))

    def assess(self, measures: Measures) -> Assessment:
        """Score = 100 x probability; reasons from the logistic surrogate (see the module)."""
        x = vectorize(measures, self.features)
        logit = self.logit(x)
        probability = sigmoid(logit)
        score = max(0, min(100, round(100 * probability)))
        reasons = []
        for i, code in enumerate(self.features):
            part = (
                self.surrogate_coef[i] * (x[i] - self.surrogate_mean[i]) / self.surrogate_scale[i]
            )
            contribution = round(100 * (probability - sigmoid(logit - part)), 2)
            if contribution != 0:
                value = round(measures.get(code, 0.0), 4)
                weight = round(self.surrogate_coef[i], 4)
                reasons.append(Reason(code, LABELS[code], value, weight, contribution))
        reasons.sort(key=lambda r: (-abs(r.contribution), r.code))
        tier = tier_of(score)
        ordered = tuple(reasons[:MAX_REASONS])
        return Assessment(
            score, tier, ordered, recommended_actions(tier, measures, ordered), self.version
        )


__all__ = ["FEATURES", "KIND", "BoostedModel", "Tree"]
