"""A learned logistic model over the same signals, stored as plain numbers (no pickles)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from risk.domain.model import RULES, Assessment, Reason, recommended_actions, tier_of
from risk.domain.signals import Measures

FEATURES: tuple[str, ...] = tuple(rule.code for rule in RULES)
LABELS = {rule.code: rule.label for rule in RULES}
_NORMS = {rule.code: rule.norm for rule in RULES}


class ModelLoadError(ValueError):
    """Stored parameters do not make a usable model."""


def vectorize(measures: Measures, features: Sequence[str] = FEATURES) -> list[float]:
    """The model's inputs: each signal on the points card's 0..1 scale."""
    return [_NORMS[code](measures.get(code, 0.0)) for code in features]


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


@dataclass(frozen=True)
class LearnedModel:
    """Standardised logistic regression: P(bad within the horizon) = sigmoid(b + w . z)."""

    version: str
    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def from_params(cls, version: str, params: Mapping[str, Any]) -> LearnedModel:
        """Validate stored parameters; ModelLoadError when they cannot score."""
        try:
            features = tuple(str(code) for code in params["features"])
            numbers = [tuple(float(v) for v in params[k]) for k in ("coef", "mean", "scale")]
            intercept = float(params["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"model {version}: malformed parameters ({exc})") from exc
        unknown = [code for code in features if code not in _NORMS]
        if unknown:
            raise ModelLoadError(f"model {version}: unknown features {unknown}")
        if any(len(n) != len(features) for n in numbers) or not features:
            raise ModelLoadError(f"model {version}: parameter lengths do not match")
        values = [intercept, *(v for n in numbers for v in n)]
        if not all(math.isfinite(v) for v in values) or min(numbers[2]) <= 0:
            raise ModelLoadError(f"model {version}: non-finite or non-positive parameters")
        coef, mean, scale = numbers
        return cls(version, features, coef, intercept, mean, scale)

    def to_params(self) -> dict[str, Any]:
        """The JSON stored in the models table."""
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    def _logit(self, x: Sequence[float]) -> float:
        return self.intercept + sum(
            w * (v - m) / s for w, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )

    def probability(self, measures: Measures) -> float:
        """Probability that the account goes bad within the training horizon."""
        return sigmoid(self._logit(vectorize(measures, self.features)))

    def assess(self, measures: Measures) -> Assessment:
        """Score = 100 x probability; each reason is what the signal adds over an average one."""
        x = vectorize(measures, self.features)
        logit = self._logit(x)
        score = max(0, min(100, round(100 * sigmoid(logit))))
        reasons = []
        for i, code in enumerate(self.features):
            part = self.coef[i] * (x[i] - self.mean[i]) / self.scale[i]
            contribution = round(100 * (sigmoid(logit) - sigmoid(logit - part)), 2)
            if contribution != 0:
                value = round(measures.get(code, 0.0), 4)
                reasons.append(
                    Reason(code, LABELS[code], value, round(self.coef[i], 4), contribution)
                )
        reasons.sort(key=lambda r: (-abs(r.contribution), r.code))
        tier = tier_of(score)
        ordered = tuple(reasons[:8])
        return Assessment(
            score, tier, ordered, recommended_actions(tier, measures, ordered), self.version
        )
