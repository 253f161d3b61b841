"""Credit-limit recommendations and predicted payment dates, from state and score."""

from __future__ import annotations

from dataclasses import dataclass

from risk.domain.signals import Measures
from risk.domain.state import AccountState

LIMIT_FACTORS = {"critical": 0.5, "high": 0.75}
RAISE_FACTOR = 1.25
LIMIT_STEP_MINOR = 100
PRIOR_DELAY_DAYS = 3.0
PRIOR_WEIGHT = 3.0
DELAY_WINDOW = 6


@dataclass(frozen=True)
class LimitAdvice:
    """A recommended credit limit (minor units) and why."""

    limit_minor: int
    reason: str


def recommend_limit(
    state: AccountState, *, tier: str, score: int, measures: Measures
) -> LimitAdvice | None:
    """Lower the limit for high and critical tiers; raise it for a reliable customer at the cap."""
    limit = state.credit_limit
    if not limit:
        return None
    utilisation = measures.get("CREDIT_UTILISATION", 0.0)
    if tier in LIMIT_FACTORS:
        factor = LIMIT_FACTORS[tier]
        reason = f"{tier} risk (score {score}): limit to {factor:.0%} of the current one"
    elif (
        tier == "low"
        and score < 15
        and utilisation >= 0.9
        and state.settled_count >= 6
        and measures.get("LATE_SHARE", 0.0) < 0.1
    ):
        factor = RAISE_FACTOR
        reason = f"reliable payer using {utilisation:.0%} of the limit: raise it by 25%"
    else:
        return None
    recommended = int(limit * factor) // LIMIT_STEP_MINOR * LIMIT_STEP_MINOR
    return LimitAdvice(recommended, reason) if recommended != limit else None


def expected_delay_days(state: AccountState) -> float:
    """Days after the due date this account usually pays: its recent habit, shrunk to a prior."""
    recent = [s[1] for s in state.settlements[-DELAY_WINDOW:]]
    return (sum(recent) + PRIOR_WEIGHT * PRIOR_DELAY_DAYS) / (len(recent) + PRIOR_WEIGHT)


def predict_payment(state: AccountState, *, issue: int, due: int) -> int:
    """Predicted payment date (ordinal) of an invoice issued now; never before its issue date."""
    return max(issue, due + round(expected_delay_days(state)))
