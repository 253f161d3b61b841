"""The hot paths of scoring give exactly what the plain formulas give (scores must not move)."""

from __future__ import annotations

import json
import random
from typing import Any

from risk.domain import facts as f
from risk.domain import synthetic
from risk.domain.model import BASE_POINTS, RULES, Reason, assess, rounded, tier_of
from risk.domain.signals import (
    EVENT_WINDOW_DAYS,
    INSOLVENCY_HALF_LIFE_DAYS,
    NEWS_HALF_LIFE_DAYS,
    TERMS_WINDOW_DAYS,
    measure,
)
from risk.domain.state import AccountState

from .factories import state_of, steady_history, uid


def _reference_card(measures: dict[str, float]) -> tuple[int, list[Reason]]:
    """The points card as documented: every rule scaled, clipped, weighted and rounded."""
    reasons = []
    for rule in RULES:
        value = measures.get(rule.code, 0.0)
        contribution = round(rule.weight * rule.norm(value), 2)
        if contribution != 0:
            reasons.append(
                Reason(rule.code, rule.label, round(value, 4), rule.weight, contribution)
            )
    reasons.sort(key=lambda r: (-abs(r.contribution), r.code))
    score = max(0, min(100, round(BASE_POINTS + sum(r.contribution for r in reasons))))
    return score, reasons


def _portfolio_measures() -> list[dict[str, float]]:
    day = synthetic.SNAPSHOT_DAY
    return [
        measure(synthetic.state_at(account, day - shift), day)
        for account in synthetic.portfolio(300, seed=5)
        for shift in (0, 90)
    ]


def test_the_points_card_matches_its_documented_formula() -> None:
    rng = random.Random(1)
    samples = _portfolio_measures()
    for _ in range(2000):  # values around every rule's start and full point, negatives too
        samples.append(
            {
                r.code: rng.choice([r.norm.start, r.norm.full_at, 0.0, -0.0])
                + rng.uniform(-2, 2) * rng.choice([0, 0.001, 1, 30])
                for r in RULES
            }
        )
    for measures in samples:
        score, reasons = _reference_card(measures)
        assessment = assess(measures)
        assert (assessment.score, list(assessment.reasons)) == (score, reasons)
        assert assessment.tier == tier_of(score)


def test_rounding_skips_only_whole_numbers() -> None:
    rng = random.Random(2)
    values = [0.0, -0.0, 1.0, 3.0, -2.0, 1e15, 0.12345, 2.00005, -0.00004999, 7]
    values += [rng.uniform(-100, 100) for _ in range(5000)]
    values += [float(rng.randint(-1000, 1000)) / rng.choice([1, 2, 4, 8, 3]) for _ in range(5000)]
    for value in values:
        for digits in (2, 4):
            assert json.dumps(rounded(value, digits)) == json.dumps(round(value, digits))


def test_signals_measured_in_one_pass_match_each_kind_measured_alone() -> None:
    today = 739_400
    kinds = [
        "negative_news",
        "other",
        "bureau_downgrade",
        "bureau_upgrade",
        "insolvency_notice",
        "credit_terms_request",
    ]
    rng = random.Random(3)
    history = steady_history(8)
    for _ in range(50):
        signals = [
            f.Signal(uid("s"), rng.choice(kinds), rng.randint(1, 5), today - rng.randint(-30, 800))
            for _ in range(rng.randint(0, 25))
        ]
        state = state_of([*history, *signals])
        measures = measure(state, today)
        kept = list(state.signals.values())
        day = max(today, state.as_of)  # measured as of the latest business date seen

        def decayed(
            of: tuple[str, ...], half_life: float, kept: list[Any] = kept, day: int = day
        ) -> float:
            total = 0.0
            for kind, severity, on, _ in kept:
                if kind in of and 0 <= day - on <= EVENT_WINDOW_DAYS * 2:
                    total += severity / 5 * 0.5 ** ((day - on) / half_life)
            return total

        assert measures["NEGATIVE_NEWS"] == decayed(("negative_news", "other"), NEWS_HALF_LIFE_DAYS)
        assert measures["BUREAU_DOWNGRADE"] == decayed(("bureau_downgrade",), NEWS_HALF_LIFE_DAYS)
        assert measures["BUREAU_UPGRADE"] == decayed(("bureau_upgrade",), NEWS_HALF_LIFE_DAYS)
        assert measures["INSOLVENCY_NOTICE"] == decayed(
            ("insolvency_notice",), INSOLVENCY_HALF_LIFE_DAYS
        )
        terms = [on for kind, _, on, _ in kept if kind == "credit_terms_request"]
        assert measures["CREDIT_TERMS_REQUESTS"] == sum(
            1 for on in terms if 0 <= day - on <= TERMS_WINDOW_DAYS
        )


def test_a_state_survives_its_stored_json_unchanged() -> None:
    for account in synthetic.portfolio(200, seed=9):
        state = synthetic.state_at(account, synthetic.SNAPSHOT_DAY)
        text = json.dumps(state.to_json())
        again = AccountState.from_json(json.loads(text))
        assert again == state
        assert json.dumps(again.to_json()) == text
        assert measure(again, synthetic.SNAPSHOT_DAY + 1) == measure(
            state, synthetic.SNAPSHOT_DAY + 1
        )
