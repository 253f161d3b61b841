"""Tiers at the documented points, deterministic replay, material changes, predictions."""

from __future__ import annotations

import random

from risk.domain import facts as f
from risk.domain.decisions import predict_payment, recommend_limit
from risk.domain.model import assess, is_material, tier_of
from risk.domain.signals import measure

from .factories import paid_invoice, state_of, steady_history, uid
from .sliding import slide

DOCUMENTED_SLIDE = [
    ("paid 5 days late", "low"),
    ("paid 10 days late", "low"),
    ("paid 20 days late", "low"),
    ("paid 30 days late", "low"),
    ("paid 45 days late", "medium"),
    ("paid 60 days late", "medium"),
    ("unpaid, 15 days overdue", "medium"),
    ("unpaid, 45 days overdue", "medium"),
    ("unpaid, 75 days overdue", "high"),
    ("a promise broken", "high"),
    ("handed to an agency", "critical"),
]


def test_tier_cut_offs_are_30_55_and_75() -> None:
    assert [tier_of(s) for s in (0, 29, 30, 54, 55, 74, 75, 100)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
        "critical",
    ]


def test_a_customer_sliding_into_late_payment_crosses_tiers_at_the_documented_points() -> None:
    steps = slide()
    assert [(name, a.tier) for name, a in steps] == DOCUMENTED_SLIDE
    scores = [a.score for _, a in steps]
    assert scores == sorted(scores)


def test_replaying_the_same_facts_in_any_order_yields_the_same_score() -> None:
    facts = steady_history(10, days_late=3)
    facts += paid_invoice(facts[-1].settled if isinstance(facts[-1], f.Settled) else 0, 20)
    facts += [
        f.Signal(uid("s"), "bureau_downgrade", 4, 739_300),
        f.PromiseBroken(uid("p"), 739_310),
        f.Disputed(uid("d"), 739_311),
        f.DisputeClosed(uid("d"), 739_312),
    ]
    expected = assess(measure(state_of(facts)))
    rng = random.Random(3)
    for _ in range(5):
        shuffled = [facts[0], *rng.sample(facts[1:], len(facts) - 1)]
        assert assess(measure(state_of(shuffled))) == expected
    assert assess(measure(state_of(facts + facts))) == expected  # applied twice: no change


def test_a_payment_before_its_invoice_counts_the_same() -> None:
    invoice = f.Invoiced("i-1", 100_000, 739_000, 739_030)
    paid = f.Paid("p-1", (("i-1", 40_000),), 739_010)
    registered = f.Registered(None, "EUR", 500_000)
    one = state_of([registered, invoice, paid])
    other = state_of([registered, paid, invoice])
    assert measure(one) == measure(other)
    assert measure(one)["PARTIAL_PAYMENTS"] == 1


def test_only_tier_changes_and_moves_of_five_points_are_material() -> None:
    low = assess({})
    assert is_material(low, previous_score=None, previous_tier=None)
    assert not is_material(low, previous_score=low.score + 4, previous_tier="low")
    assert is_material(low, previous_score=low.score + 5, previous_tier="low")
    assert is_material(low, previous_score=low.score, previous_tier="medium")


def test_high_risk_lowers_the_recommended_credit_limit() -> None:
    state = state_of(steady_history())
    measures = measure(state)
    advice = recommend_limit(state, tier="critical", score=80, measures=measures)
    assert advice is not None
    assert advice.limit_minor == 500_000
    assert recommend_limit(state, tier="medium", score=40, measures=measures) is None


def test_the_payment_date_follows_the_accounts_habit() -> None:
    punctual = state_of(steady_history(days_late=0))
    late = state_of(steady_history(days_late=20))
    assert predict_payment(punctual, issue=0 + 739_000, due=739_030) <= 739_032
    assert predict_payment(late, issue=739_000, due=739_030) >= 739_040
