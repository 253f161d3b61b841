"""Property: an account's ledger is a function of its facts, however the topics interleave."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.domain.account_ledger import (
    AccountLedger,
    Allocated,
    Credited,
    DisputeClosed,
    DisputeOpened,
    Fact,
    InvoiceKnown,
    Reversed,
    replay,
)


@dataclass(frozen=True)
class History:
    """What each topic delivers, in its own order."""

    invoicing: list[Fact]
    payments: list[Fact]
    totals: dict[str, int]


@st.composite
def histories(draw: st.DrawFn, *, allow_excess: bool = False) -> History:
    """Invoices with credits and disputes on one topic; payments and reversals on the other.

    Allocations are decided against the balance the payments service saw, so credits plus
    allocations never exceed a total (unless allow_excess, which forces overpayments).
    """
    totals = {f"inv-{i}": draw(st.integers(1, 100_000)) for i in range(draw(st.integers(1, 4)))}
    invoicing: dict[str, list[Fact]] = {i: [InvoiceKnown(i, t)] for i, t in totals.items()}
    allocations: dict[str, list[Allocated]] = defaultdict(list)
    for invoice_id, total in totals.items():
        budget = total
        for n in range(draw(st.integers(0, 5))):
            if budget == 0:
                break
            amount = draw(st.integers(1, budget))
            budget -= amount
            use = draw(st.sampled_from(["pay", "pay", "credit", "upheld", "rejected"]))
            if use == "pay":
                payment = f"pay-{draw(st.integers(0, 3))}"
                excess = draw(st.integers(0, 500)) if allow_excess else 0
                allocations[payment].append(Allocated(payment, invoice_id, amount + excess))
            elif use == "credit":
                invoicing[invoice_id].append(Credited(invoice_id, amount))
            else:
                dispute = f"dsp-{invoice_id}-{n}"
                credit = amount if use == "upheld" else 0
                invoicing[invoice_id] += [
                    DisputeOpened(dispute, invoice_id, amount),
                    DisputeClosed(dispute, credit),
                ]
    if allow_excess:  # no credits then, so every interleaving still sees the same balances
        invoicing = {
            i: [f for f in fs if isinstance(f, InvoiceKnown)] for i, fs in invoicing.items()
        }
    payments: list[Fact] = []
    for payment in sorted(allocations):
        payments += allocations[payment]
        if draw(st.booleans()):
            reversals = [
                Reversed(a.payment_id, a.invoice_id, a.amount_minor) for a in allocations[payment]
            ]
            at = draw(st.integers(len(payments), len(payments) + 1))
            payments[at:at] = reversals
    return History(_interleave(draw, list(invoicing.values())), payments, totals)


def _interleave(draw: st.DrawFn, streams: list[list[Fact]]) -> list[Fact]:
    """Merge per-invoice streams, keeping each stream's own order (one topic, keyed)."""
    seed = draw(st.integers(0, 2**32))
    return merge(random.Random(seed), streams)


def merge(rng: random.Random, streams: list[list[Fact]]) -> list[Fact]:
    """A random interleaving that keeps the order within each stream."""
    queues = [list(s) for s in streams if s]
    merged: list[Fact] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        queues = [q for q in queues if q]
    return merged


def final_state(ledger: AccountLedger) -> object:
    """What must not depend on delivery order (entries may differ, their sum may not)."""

    def nonzero(d: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        return {k: v for k, v in d.items() if v}

    return (ledger.invoices, nonzero(ledger.applied), nonzero(ledger.overpaid), ledger.held)


def check_invariants(ledger: AccountLedger, history: History) -> None:
    allocated: dict[str, int] = defaultdict(int)
    for fact in history.payments:
        if isinstance(fact, Allocated):
            allocated[fact.payment_id] += fact.amount_minor
        elif isinstance(fact, Reversed):
            allocated[fact.payment_id] -= fact.amount_minor
    # Nothing lost: every minor unit of every payment is applied, held or overpaid.
    for payment, net in allocated.items():
        kept = sum(
            d.get((payment, invoice), 0)
            for d in (ledger.applied, ledger.overpaid, ledger.held)
            for invoice in history.totals
        )
        assert kept == net
    entries: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invoice_id, kind, amount in ledger.entries:
        entries[invoice_id][kind] += amount
    for invoice_id, invoice in ledger.invoices.items():
        assert invoice.balance_minor >= 0
        e = entries[invoice_id]
        credits = -e["credit_note"]
        # balance = total - applied + reversed - credits, and the entries add up to it
        assert invoice.balance_minor == (
            history.totals[invoice_id] + e["payment"] + e["reversal"] - credits
        )
        assert invoice.balance_minor == sum(e.values())
        assert invoice.total_minor == history.totals[invoice_id] - credits
        applied = sum(v for (_, i), v in ledger.applied.items() if i == invoice_id)
        assert invoice.paid_minor == applied
        expected = (
            "paid" if invoice.balance_minor == 0 else ("partially_paid" if applied else "open")
        )
        assert invoice.status == expected
        assert invoice.disputed_minor == 0  # every generated dispute is closed


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(0, 2**32))
def test_any_interleaving_of_the_two_topics_gives_the_same_ledger(
    history: History, seed: int
) -> None:
    rng = random.Random(seed)
    invoicing_first = replay(history.invoicing + history.payments)
    payments_first = replay(history.payments + history.invoicing)
    shuffled = replay(merge(rng, [history.invoicing, history.payments]))
    for ledger in (invoicing_first, payments_first, shuffled):
        check_invariants(ledger, history)
    assert final_state(invoicing_first) == final_state(payments_first) == final_state(shuffled)
    assert not shuffled.held  # every invoice arrived, so no allocation waits any more


@settings(max_examples=200, deadline=None)
@given(histories(allow_excess=True), st.integers(0, 2**32))
def test_allocations_above_the_balance_become_overpayments_and_nothing_is_lost(
    history: History, seed: int
) -> None:
    ledger = replay(merge(random.Random(seed), [history.invoicing, history.payments]))
    check_invariants(ledger, history)
    assert final_state(ledger) == final_state(replay(history.invoicing + history.payments))


@given(histories(), st.integers(0, 2**32))
def test_no_balance_is_ever_negative_along_the_way(history: History, seed: int) -> None:
    ledger = AccountLedger()
    for fact in merge(random.Random(seed), [history.invoicing, history.payments]):
        ledger.apply(fact)
        assert all(i.balance_minor >= 0 for i in ledger.invoices.values())
        assert all(
            v >= 0 for d in (ledger.applied, ledger.overpaid, ledger.held) for v in d.values()
        )
