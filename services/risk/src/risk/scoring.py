"""Scorers and the step shared by the consumer, the API and rescoring: assess, decide, publish."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from dunlin_events import CreditLimitRecommended, Event, RiskAssessed, from_minor
from risk.domain import model
from risk.domain.decisions import recommend_limit
from risk.domain.model import Assessment, is_material, rounded
from risk.domain.signals import measure
from risk.domain.state import AccountState
from risk.repository import StoredAccount


class Scorer(Protocol):
    """Anything that turns signal measures into an assessment."""

    def assess(self, measures: dict[str, float]) -> Assessment: ...


class PointsCard:
    """The transparent default model."""

    version = model.MODEL_VERSION

    def assess(self, measures: dict[str, float]) -> Assessment:
        """Score with the documented points card."""
        return model.assess(measures)


@dataclass
class Outcome:
    """What one pass over some accounts produced: rows to write and events to publish."""

    account_rows: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # One per event: the trace it continues (the message that caused it).
    traceparents: list[str | None] = field(default_factory=list)


# json.dumps with options builds an encoder per call; these are built once. What they encode
# is built here from numbers, strings and lists, never cyclic: the cycle check is skipped.
_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_DEFAULT = json.JSONEncoder(check_circular=False).encode
_ACTIONS: dict[tuple[str, ...], str] = {}  # a handful of combinations: encoded once each


def _actions_json(actions: tuple[str, ...]) -> str:
    encoded = _ACTIONS.get(actions)
    if encoded is None:
        encoded = _ACTIONS[actions] = _DEFAULT(list(actions))
    return encoded


def reasons_json(assessment: Assessment) -> list[dict[str, Any]]:
    """Reasons as stored and served."""
    return [
        {
            "code": r.code,
            "label": r.label,
            "value": r.value,
            "weight": r.weight,
            "contribution": r.contribution,
        }
        for r in assessment.reasons
    ]


def score_account(
    row: StoredAccount,
    state: AccountState,
    *,
    scorer: Scorer,
    now: dt.datetime,
    outcome: Outcome,
    as_of: int | None = None,
    keep_state: bool = False,
    traceparent: str | None = None,
) -> None:
    """Assess one account; stage its row, and its events when the change is material."""
    values: dict[str, Any] = {
        "account_id": row.account_id,
        "state": None if keep_state else _COMPACT(state.to_json()),
        "registered": state.registered,
        "external_id": state.external_id,
        "score": None,
        "tier": None,
        "reasons": "[]",
        "actions": "[]",
        "model_version": None,
        "published_score": row.published_score,
        "published_tier": row.published_tier,
        "recommended_limit_minor": row.recommended_limit_minor,
        "scored_at": None,
        "updated_at": now,
    }
    if not state.registered:
        outcome.account_rows.append(values)
        return
    measures = measure(state, as_of)
    assessment = scorer.assess(measures)
    reason_list = reasons_json(assessment)
    reasons = _COMPACT(reason_list)
    values["score"] = assessment.score
    values["tier"] = assessment.tier
    values["reasons"] = reasons
    values["actions"] = _actions_json(assessment.actions)
    values["model_version"] = assessment.model_version
    values["scored_at"] = now
    if is_material(
        assessment, previous_score=row.published_score, previous_tier=row.published_tier
    ):
        outcome.events.append(_assessed(row, assessment, reason_list, now))
        outcome.traceparents.append(traceparent)
        outcome.history.append(
            {
                "account_id": row.account_id,
                "score": assessment.score,
                "tier": assessment.tier,
                "previous_score": row.published_score,
                "reasons": reasons,
                "measures": _COMPACT({k: rounded(v, 4) for k, v in measures.items()}),
                "model_version": assessment.model_version,
                "as_of": dt.date.fromordinal(max(state.as_of, as_of or 0, 1)),
                "assessed_at": now,
            }
        )
        values.update(published_score=assessment.score, published_tier=assessment.tier)
    advice = recommend_limit(state, tier=assessment.tier, score=assessment.score, measures=measures)
    if advice is not None and advice.limit_minor != row.recommended_limit_minor:
        currency = state.currency
        outcome.events.append(
            CreditLimitRecommended(
                account_id=row.account_id,
                currency=currency,
                current_limit=from_minor(state.credit_limit or 0, currency),
                recommended_limit=from_minor(advice.limit_minor, currency),
                tier=assessment.tier,
                reason=advice.reason,
                recommended_at=now,
            )
        )
        outcome.traceparents.append(traceparent)
        values["recommended_limit_minor"] = advice.limit_minor
    outcome.account_rows.append(values)


def _assessed(
    row: StoredAccount, assessment: Assessment, reasons: list[dict[str, Any]], now: dt.datetime
) -> RiskAssessed:
    return RiskAssessed.model_validate(
        {
            "account_id": row.account_id,
            "score": assessment.score,
            "tier": assessment.tier,
            "previous_score": row.published_score,
            "previous_tier": row.published_tier,
            "reasons": reasons,
            "recommended_actions": list(assessment.actions),
            "model_version": assessment.model_version,
            "assessed_at": now,
        }
    )
