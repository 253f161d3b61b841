"""The transparent default model: a points card over the signals, with tiers and actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from risk.domain.signals import Measures

MODEL_VERSION = "transparent-v1"
BASE_POINTS = 5.0
TIER_CUTOFFS = (("critical", 75), ("high", 55), ("medium", 30))
MATERIAL_MOVE = 5


@dataclass(frozen=True, slots=True)
class Scale:
    """Linear from `start` (0) to `full_at` (1), clipped to [floor, 1]."""

    full_at: float
    start: float = 0.0
    floor: float = 0.0

    def __call__(self, value: float) -> float:
        return max(self.floor, min(1.0, (value - self.start) / (self.full_at - self.start)))


def _scaled(full_at: float, start: float = 0.0, floor: float = 0.0) -> Scale:
    return Scale(full_at, start, floor)


@dataclass(frozen=True)
class Rule:
    """One line of the points card: a signal, its label, its weight in points, its scale."""

    code: str
    label: str
    weight: float
    norm: Scale


RULES: tuple[Rule, ...] = (
    Rule("LATE_SHARE", "Share of invoices paid late", 20, _scaled(1.0)),
    Rule("AVG_DAYS_LATE", "Average days paid late", 15, _scaled(30.0)),
    Rule("LATE_TREND", "Recent lateness against own history (days)", 10, _scaled(15.0, floor=-0.5)),
    Rule("CREDIT_TERMS_REQUESTS", "Requests for longer credit terms (180 days)", 8, _scaled(2.0)),
    Rule("ORDER_DROP", "Drop in invoiced value against own baseline", 8, _scaled(0.8, 0.3)),
    Rule("ORDER_SPIKE", "Invoiced value against own baseline (spike)", 4, _scaled(4.0, 2.0)),
    Rule("NEGATIVE_NEWS", "Negative news (severity, decayed)", 10, _scaled(1.0)),
    Rule("BUREAU_DOWNGRADE", "Credit bureau downgrade (severity, decayed)", 15, _scaled(1.0)),
    Rule("BUREAU_UPGRADE", "Credit bureau upgrade (severity, decayed)", -8, _scaled(1.0)),
    Rule("INSOLVENCY_NOTICE", "Insolvency notice (severity, decayed)", 45, _scaled(0.6)),
    Rule("BROKEN_PROMISES", "Broken promises to pay (365 days)", 12, _scaled(3.0)),
    Rule("DISPUTES_OPENED", "Disputes opened (180 days)", 6, _scaled(3.0)),
    Rule("PARTIAL_PAYMENTS", "Open invoices paid only in part", 6, _scaled(3.0)),
    Rule("MISSED_INSTALLMENTS", "Missed plan installments (365 days)", 10, _scaled(2.0)),
    Rule("PAYMENT_REVERSALS", "Reversed payments (180 days)", 6, _scaled(2.0)),
    Rule("CREDIT_UTILISATION", "Open balance over credit limit", 10, _scaled(1.2, 0.6)),
    Rule("OVERDUE_DAYS", "Days overdue of the oldest unpaid invoice", 22, _scaled(90.0)),
    Rule("OVERDUE_SHARE", "Share of the open balance that is overdue", 6, _scaled(1.0)),
    Rule("AGENCY_HANDOFF", "Handed to a collection agency (365 days)", 30, _scaled(1.0)),
)


class Reason(NamedTuple):
    """A signal's part in one score (a named tuple: built for every reason of every score)."""

    code: str
    label: str
    value: float
    weight: float
    contribution: float


class Assessment(NamedTuple):
    """A score with its tier, reasons (biggest first) and recommended actions."""

    score: int
    tier: str
    reasons: tuple[Reason, ...]
    actions: tuple[str, ...]
    model_version: str


def tier_of(score: int) -> str:
    """low < 30 <= medium < 55 <= high < 75 <= critical."""
    for tier, cutoff in TIER_CUTOFFS:
        if score >= cutoff:
            return tier
    return "low"


def recommended_actions(
    tier: str, measures: Measures, reasons: tuple[Reason, ...]
) -> tuple[str, ...]:
    """What a credit manager should do about an account in this tier with these reasons."""
    lateness = sum(
        r.contribution for r in reasons if r.code in ("LATE_SHARE", "AVG_DAYS_LATE", "LATE_TREND")
    )
    stretched = measures.get("CREDIT_UTILISATION", 0.0) >= 0.8
    actions: list[str] = []
    if tier == "critical":
        actions += ["require_prepayment", "lower_credit_limit", "review_account"]
    elif tier == "high":
        actions += ["require_collateral", "contact_more_often"]
        if stretched:
            actions.append("lower_credit_limit")
    elif tier == "medium":
        actions.append("contact_more_often")
    if tier in ("medium", "high") and lateness >= 5:
        actions.append("offer_early_payment_discount")
    if tier == "low" and stretched:
        actions.append("review_account")
    return tuple(actions)


# The card as plain numbers: assess is the hot loop of scoring and rescoring.
_CARD = tuple(
    (r.code, r.label, r.weight, r.norm.start, r.norm.full_at - r.norm.start, r.norm.floor)
    for r in RULES
)


def _order(reason: Reason) -> tuple[float, str]:
    return -abs(reason.contribution), reason.code


def rounded(value: float, digits: int) -> float:
    """round(value, digits), skipping the (slow) rounding of whole floats (counts, full
    weights), which it would return unchanged."""
    return value if value.__class__ is float and value.is_integer() else round(value, digits)


def assess(measures: Measures) -> Assessment:
    """Score the measures with the points card; pure and deterministic."""
    reasons = []
    get = measures.get
    for code, label, weight, start, span, floor in _CARD:
        value = get(code, 0.0)
        if value <= start and not floor:
            continue  # scaled to 0 or below, clipped to a floor of 0: contributes nothing
        scaled = (value - start) / span
        contribution = rounded(
            weight * (floor if scaled < floor else scaled if scaled < 1.0 else 1.0), 2
        )
        if contribution != 0:
            reasons.append(Reason(code, label, rounded(value, 4), weight, contribution))
    reasons.sort(key=_order)
    score = max(0, min(100, round(BASE_POINTS + sum(r.contribution for r in reasons))))
    tier = tier_of(score)
    ordered = tuple(reasons)
    return Assessment(
        score, tier, ordered, recommended_actions(tier, measures, ordered), MODEL_VERSION
    )


def is_material(
    assessment: Assessment, *, previous_score: int | None, previous_tier: str | None
) -> bool:
    """Publish on a first score, a tier change, or a move of MATERIAL_MOVE points or more."""
    if previous_score is None or previous_tier != assessment.tier:
        return True
    return abs(assessment.score - previous_score) >= MATERIAL_MOVE
