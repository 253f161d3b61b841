"""Backtest metrics: AUC, calibration and lift by decile (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


def auc(labels: Floats, scores: Floats) -> float:
    """Area under the ROC curve (Mann-Whitney with average ranks for ties)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class Decile:
    """One tenth of the accounts, riskiest first."""

    decile: int
    accounts: int
    mean_predicted: float
    observed_rate: float
    lift: float


def deciles(labels: Floats, scores: Floats, probabilities: Floats | None = None) -> list[Decile]:
    """Sort by score (riskiest first), cut in ten: predicted vs observed rate and lift."""
    order = np.argsort(-scores, kind="mergesort")
    base = float(labels.mean()) or 1e-9
    predicted = probabilities if probabilities is not None else scores / 100
    rows = []
    for n, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk) == 0:
            continue
        rate = float(labels[chunk].mean())
        rows.append(Decile(n, len(chunk), float(predicted[chunk].mean()), rate, rate / base))
    return rows


def brier(labels: Floats, probabilities: Floats) -> float:
    """Mean squared error of the probabilities."""
    return float(np.mean((probabilities - labels) ** 2))


def calibration_error(labels: Floats, probabilities: Floats) -> float:
    """Expected calibration error over ten equal-count bins."""
    order = np.argsort(probabilities)
    total = 0.0
    for chunk in np.array_split(order, 10):
        if len(chunk):
            gap = abs(probabilities[chunk].mean() - labels[chunk].mean())
            total += len(chunk) / len(labels) * gap
    return float(total)
