"""The allocation rules and remittance handling, example by example."""

from __future__ import annotations

import datetime as dt

from payments.domain.allocation import Open, spread
from payments.domain.ledger import InvoiceState, Ledger, add_invoice, receive, reverse

JAN, FEB, MAR = dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)


def invoice(invoice_id: str, total: int, due: dt.date, seq: int = 0) -> InvoiceState:
    return InvoiceState(
        id=invoice_id,
        number=f"N-{invoice_id}",
        external_id=f"E-{invoice_id}",
        due_date=due,
        seq=seq,
        total_minor=total,
    )


def ledger_with(*invoices: InvoiceState, rule: str = "oldest_due_first") -> Ledger:
    ledger = Ledger(rule=rule)  # type: ignore[arg-type]
    for item in invoices:
        ledger.invoices[item.id] = item
    return ledger


def test_oldest_due_first_fills_the_earliest_due_date_first():
    items = [Open("b", FEB, 1, 100), Open("a", JAN, 2, 100)]
    assert spread(150, items, "oldest_due_first") == [("a", 100), ("b", 50)]


def test_largest_first_fills_the_largest_balance_first():
    items = [Open("small", JAN, 1, 30), Open("big", FEB, 2, 200)]
    assert spread(210, items, "largest_first") == [("big", 200), ("small", 10)]


def test_proportional_never_loses_a_cent_and_never_exceeds_a_balance():
    items = [Open("a", JAN, 1, 100), Open("b", FEB, 2, 100), Open("c", MAR, 3, 100)]
    shares = spread(100, items, "proportional")
    assert sum(amount for _, amount in shares) == 100
    assert sorted(amount for _, amount in shares) == [33, 33, 34]


def test_proportional_pays_everything_when_the_amount_covers_it():
    items = [Open("a", JAN, 1, 70), Open("b", FEB, 2, 30)]
    assert spread(500, items, "proportional") == [("a", 70), ("b", 30)]


def test_a_remittance_line_is_capped_at_the_balance_and_the_excess_follows_the_rule():
    ledger = ledger_with(invoice("old", 100, JAN), invoice("new", 80, FEB))
    receipt = receive(ledger, payment_id="p", seq=1, amount_minor=100, remittance=[("N-new", 90)])
    assert dict(receipt.allocations) == {"new": 80, "old": 20}
    assert receipt.credit.total_minor == 0


def test_remittance_beyond_the_payment_amount_is_cut_in_line_order():
    ledger = ledger_with(invoice("a", 100, JAN), invoice("b", 100, FEB))
    receipt = receive(
        ledger, payment_id="p", seq=1, amount_minor=120, remittance=[("b", 100), ("a", 100)]
    )
    assert dict(receipt.allocations) == {"b": 100, "a": 20}


def test_an_overpayment_stays_as_credit_and_the_next_invoice_takes_it():
    ledger = ledger_with(invoice("a", 60, JAN))
    receipt = receive(ledger, payment_id="p", seq=1, amount_minor=100)
    assert receipt.credit.general_minor == 40

    [applied] = add_invoice(ledger, invoice("b", 25, FEB))

    assert applied.allocations == (("b", 25),)
    assert applied.unapplied_minor == 15


def test_credit_earmarked_for_an_unknown_invoice_goes_to_it_before_general_credit():
    ledger = ledger_with()
    receive(ledger, payment_id="general", seq=1, amount_minor=50)
    receipt = receive(ledger, payment_id="held", seq=2, amount_minor=70, remittance=[("E-x", 70)])
    assert receipt.credit.earmarks == {"E-x": 70}

    applied = add_invoice(ledger, invoice("x", 100, JAN))

    assert {a.payment_id: a.allocations for a in applied} == {
        "held": (("x", 70),),
        "general": (("x", 30),),
    }
    assert ledger.credits["general"].general_minor == 20


def test_reversal_reopens_balances_that_other_credit_then_covers():
    ledger = ledger_with(invoice("a", 100, JAN))
    first = receive(ledger, payment_id="p1", seq=1, amount_minor=100)
    receive(ledger, payment_id="p2", seq=2, amount_minor=60)

    [applied] = reverse(ledger, payment_id="p1", allocations=first.allocations)

    assert applied.payment_id == "p2"
    assert applied.allocations == (("a", 60),)
    assert ledger.invoices["a"].balance_minor == 40
