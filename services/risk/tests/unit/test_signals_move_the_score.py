"""Each signal moves the points-card score the expected way, under its own reason code."""

from __future__ import annotations

import pytest

from risk.domain import facts as f
from risk.domain.model import assess
from risk.domain.signals import measure

from .factories import paid_invoice, state_of, steady_history, uid

HISTORY = steady_history()
LAST = max(fact.settled for fact in HISTORY if isinstance(fact, f.Settled))
TODAY = LAST + 5
# Orders go on as usual: this month's invoice is open and not due yet.
BASE = [*HISTORY, f.Invoiced("current", 100000, LAST, LAST + 30)]


def _open_invoice(total: int, due: int) -> list[f.Fact]:
    invoice_id = uid("open")
    return [f.Invoiced(invoice_id, total, due - 30, due)]


def _partial() -> list[f.Fact]:
    invoice_id = uid("part")
    return [
        f.Invoiced(invoice_id, 100_000, TODAY - 10, TODAY + 20),
        f.Paid(uid("pay"), ((invoice_id, 40_000),), TODAY),
    ]


def _late_payments() -> list[f.Fact]:
    facts: list[f.Fact] = []
    for i in range(6):
        facts += paid_invoice(LAST + 1 + 30 * i, 25)
    return facts


def _order_drop() -> list[f.Fact]:
    # three months pass without an order (a kept promise moves the account's date on)
    return [f.PromiseKept(uid("p"), TODAY + 95)]


CASES: list[tuple[str, list[f.Fact], str, int]] = [
    ("late payments", _late_payments(), "AVG_DAYS_LATE", 1),
    (
        "credit terms",
        [f.Signal(uid("s"), "credit_terms_request", 2, TODAY, 90)],
        "CREDIT_TERMS_REQUESTS",
        1,
    ),
    ("negative news", [f.Signal(uid("s"), "negative_news", 4, TODAY)], "NEGATIVE_NEWS", 1),
    ("bureau downgrade", [f.Signal(uid("s"), "bureau_downgrade", 3, TODAY)], "BUREAU_DOWNGRADE", 1),
    ("insolvency", [f.Signal(uid("s"), "insolvency_notice", 5, TODAY)], "INSOLVENCY_NOTICE", 1),
    ("broken promise", [f.PromiseBroken(uid("p"), TODAY)], "BROKEN_PROMISES", 1),
    ("dispute", [f.Disputed(uid("d"), TODAY)], "DISPUTES_OPENED", 1),
    ("partial payment", _partial(), "PARTIAL_PAYMENTS", 1),
    ("missed installment", [f.InstallmentMissed("plan:1", TODAY)], "MISSED_INSTALLMENTS", 1),
    ("reversal", [f.Reversed(uid("r"), (), TODAY)], "PAYMENT_REVERSALS", 1),
    ("utilisation", _open_invoice(1_100_000, TODAY + 20), "CREDIT_UTILISATION", 1),
    ("overdue", _open_invoice(200_000, TODAY - 45), "OVERDUE_DAYS", 1),
    ("agency", [f.HandedToAgency(TODAY)], "AGENCY_HANDOFF", 1),
    ("order drop", _order_drop(), "ORDER_DROP", 1),
]


@pytest.mark.parametrize(("name", "extra", "code", "direction"), CASES, ids=[c[0] for c in CASES])
def test_each_signal_moves_the_score_with_its_reason_code(
    name: str, extra: list[f.Fact], code: str, direction: int
) -> None:
    before = assess(measure(state_of(BASE), TODAY))
    after = assess(measure(state_of(BASE + extra), TODAY))
    assert before.reasons == ()
    assert (after.score - before.score) * direction > 0, name
    reason = next(r for r in after.reasons if r.code == code)
    assert reason.contribution * direction > 0


def test_a_bureau_upgrade_lowers_the_score() -> None:
    worried = [*BASE, f.Signal(uid("s"), "negative_news", 5, TODAY)]
    before = assess(measure(state_of(worried), TODAY))
    after = assess(
        measure(state_of([*worried, f.Signal(uid("s"), "bureau_upgrade", 5, TODAY)]), TODAY)
    )
    assert after.score < before.score
    assert next(r for r in after.reasons if r.code == "BUREAU_UPGRADE").contribution < 0


def test_an_order_spike_against_the_baseline_raises_the_score() -> None:
    spike: list[f.Fact] = [f.Invoiced(uid("big"), 900_000, TODAY - 10, TODAY + 20)]
    spike += [f.Invoiced(uid("big"), 900_000, TODAY - 5, TODAY + 25)]
    state = state_of(BASE + spike)
    state.credit_limit = None  # isolate the ordering pattern from utilisation
    after = assess(measure(state, TODAY))
    assert any(r.code == "ORDER_SPIKE" and r.contribution > 0 for r in after.reasons)


def test_news_fades_with_time() -> None:
    news = [*BASE, f.Signal(uid("s"), "negative_news", 5, TODAY)]
    fresh = measure(state_of(news), TODAY)["NEGATIVE_NEWS"]
    old = measure(state_of(news), TODAY + 180)["NEGATIVE_NEWS"]
    assert old < fresh / 3
