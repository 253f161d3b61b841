"""Properties of the pure ledger across any mix of invoices, payments, reversals, credit notes.

What holds after every step: each live payment's allocations plus its credit equal its
amount; no balance is negative; no allocation exceeds the balance it meets (the domain
asserts it); general credit never waits while an invoice has a balance.

What holds across interleavings: allocation depends on what is known when money arrives
(a payment before its invoice becomes credit, and credit goes to whichever invoice arrives
next), so *which* invoice a payment ends up on can differ between interleavings. What does
not differ, when every topic keeps its own order, is the account's position: the total open
balance, the general credit and the credit still earmarked for invoices never issued.
Credit notes in that property never take an invoice below what any interleaving could have
paid on it (over-crediting clamps the balance at zero and leaves the excess to invoicing,
so the clamped amount, and only it, would depend on timing).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from payments.domain.allocation import ALLOCATION_RULES, AllocationRule
from payments.domain.ledger import (
    Applied,
    InvoiceState,
    Ledger,
    add_invoice,
    adjust_invoice,
    receive,
    reverse,
)

Event = tuple[object, ...]
INVOICES = [f"i{n}" for n in range(6)]
NEVER_ISSUED = ["i-ghost", "N-ghost"]


@dataclass
class Simulation:
    """Feeds events to one ledger and keeps what the database would keep."""

    rule: AllocationRule
    ledger: Ledger = field(init=False)
    amounts: dict[str, int] = field(default_factory=dict)
    allocations: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    reversed: set[str] = field(default_factory=set)
    seq: int = 0

    def __post_init__(self) -> None:
        self.ledger = Ledger(rule=self.rule)

    def _record(self, applied: tuple[Applied, ...]) -> None:
        for step in applied:
            for invoice_id, amount in step.allocations:
                shares = self.allocations[step.payment_id]
                shares[invoice_id] = shares.get(invoice_id, 0) + amount

    def apply(self, event: Event) -> None:
        self.seq += 1
        kind = event[0]
        if kind == "issue":
            _, invoice_id, due_day, total = event
            assert isinstance(invoice_id, str)
            assert isinstance(due_day, int)
            assert isinstance(total, int)
            invoice = InvoiceState(
                id=invoice_id,
                number=f"N-{invoice_id}",
                external_id=f"E-{invoice_id}",
                due_date=dt.date(2025, 1, 1) + dt.timedelta(days=due_day),
                seq=self.seq,
                total_minor=total,
            )
            self._record(add_invoice(self.ledger, invoice))
        elif kind == "credit_note":
            _, invoice_id, amount = event
            assert isinstance(invoice_id, str)
            assert isinstance(amount, int)
            invoice = self.ledger.invoices[invoice_id]
            self._record(
                adjust_invoice(
                    self.ledger,
                    invoice_id=invoice_id,
                    total_minor=max(0, invoice.total_minor - amount),
                    closed=False,
                )
            )
        elif kind == "pay":
            _, payment_id, amount, remittance = event
            assert isinstance(payment_id, str)
            assert isinstance(amount, int)
            assert isinstance(remittance, tuple)
            self.amounts[payment_id] = amount
            receipt = receive(
                self.ledger,
                payment_id=payment_id,
                seq=self.seq,
                amount_minor=amount,
                remittance=remittance,
            )
            self._record((Applied(payment_id, receipt.allocations, 0),))
        elif kind == "reverse":
            _, payment_id = event
            assert isinstance(payment_id, str)
            if payment_id in self.reversed:
                return
            self.reversed.add(payment_id)
            undone = self.allocations.pop(payment_id, {})
            self._record(reverse(self.ledger, payment_id=payment_id, allocations=undone.items()))

    def check(self) -> None:
        per_invoice: dict[str, int] = defaultdict(int)
        for payment_id, amount in self.amounts.items():
            shares = self.allocations.get(payment_id, {})
            credit = self.ledger.credits.get(payment_id)
            unapplied = credit.total_minor if credit else 0
            if payment_id in self.reversed:
                assert not shares
                assert unapplied == 0
                continue
            assert all(share > 0 for share in shares.values())
            assert sum(shares.values()) + unapplied == amount
            for invoice_id, share in shares.items():
                per_invoice[invoice_id] += share
        for invoice in self.ledger.invoices.values():
            assert invoice.allocated_minor == per_invoice[invoice.id]
            assert invoice.balance_minor >= 0
        if any(c.general_minor > 0 for c in self.ledger.credits.values()):
            assert all(i.balance_minor == 0 for i in self.ledger.invoices.values())

    def position(self) -> tuple[int, int, dict[str, int]]:
        earmarked: dict[str, int] = defaultdict(int)
        for credit in self.ledger.credits.values():
            for reference, amount in credit.earmarks.items():
                earmarked[reference] += amount
        return (
            sum(i.balance_minor for i in self.ledger.invoices.values()),
            sum(c.general_minor for c in self.ledger.credits.values()),
            dict(earmarked),
        )


def references() -> st.SearchStrategy[str]:
    named = st.sampled_from(INVOICES).flatmap(lambda i: st.sampled_from([i, f"N-{i}", f"E-{i}"]))
    return st.one_of(named, st.sampled_from(NEVER_ISSUED))


@st.composite
def payments_stream(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = []
    for n in range(draw(st.integers(0, 6))):
        remittance = tuple(
            draw(st.lists(st.tuples(references(), st.integers(1, 50_000)), max_size=3))
        )
        events.append(("pay", f"p{n}", draw(st.integers(1, 120_000)), remittance))
        if draw(st.booleans()) and draw(st.booleans()):
            events.append(("reverse", f"p{draw(st.integers(0, n))}"))
    return events


@st.composite
def invoicing_stream(draw: st.DrawFn, *, credit_limit: int | None) -> list[Event]:
    """Invoices in issue order; a credit note follows its invoice (the topic keeps order)."""
    events: list[Event] = []
    chosen = draw(st.lists(st.sampled_from(INVOICES), unique=True, max_size=len(INVOICES)))
    for invoice_id in chosen:
        total = draw(st.integers(1, 100_000))
        events.append(("issue", invoice_id, draw(st.integers(0, 90)), total))
        room = total if credit_limit is None else max(0, total - credit_limit)
        if room > 0 and draw(st.booleans()):
            events.append(("credit_note", invoice_id, draw(st.integers(1, room))))
    return events


@st.composite
def interleaving(draw: st.DrawFn, first: list[Event], second: list[Event]) -> list[Event]:
    """A random merge that keeps each stream's own order."""
    picks = draw(st.permutations([0] * len(first) + [1] * len(second)))
    streams = [iter(first), iter(second)]
    return [next(streams[p]) for p in picks]


@st.composite
def scenario(draw: st.DrawFn, *, bounded_credit: bool) -> tuple[list[Event], list[Event]]:
    payments = draw(payments_stream())
    paid = sum(int(e[2]) for e in payments if e[0] == "pay")  # type: ignore[call-overload]
    invoicing = draw(invoicing_stream(credit_limit=paid if bounded_credit else None))
    return invoicing, payments


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(ALLOCATION_RULES),
    data=st.data(),
    streams=scenario(bounded_credit=False),
)
def test_every_step_keeps_payments_whole_and_balances_non_negative(
    rule: AllocationRule, data: st.DataObject, streams: tuple[list[Event], list[Event]]
):
    simulation = Simulation(rule)
    for event in data.draw(interleaving(*streams)):
        simulation.apply(event)
        simulation.check()


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(ALLOCATION_RULES),
    data=st.data(),
    streams=scenario(bounded_credit=True),
)
def test_any_interleaving_of_the_topics_ends_in_the_same_account_position(
    rule: AllocationRule, data: st.DataObject, streams: tuple[list[Event], list[Event]]
):
    invoicing, payments = streams
    baseline = Simulation(rule)
    for event in invoicing + payments:
        baseline.apply(event)
    shuffled = Simulation(rule)
    for event in data.draw(interleaving(invoicing, payments)):
        shuffled.apply(event)
        shuffled.check()
    assert shuffled.position() == baseline.position()
