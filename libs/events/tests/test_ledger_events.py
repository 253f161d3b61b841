"""Invariants of the ledger and payment-plan events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dunlin_events import KafkaRecord, decode, encode, new_envelope
from dunlin_events import testing as f

FACTORIES = [
    f.invoice_adjusted,
    f.invoice_disputed,
    f.dispute_resolved,
    f.invoice_settled,
    f.payment_reversed,
    f.payment_returned,
    f.payment_allocated,
    f.payment_plan_agreed,
    f.installment_missed,
    f.payment_plan_completed,
    f.payment_plan_cancelled,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda fn: fn.__name__)
def test_every_ledger_event_survives_the_kafka_round_trip(factory):
    event = factory()
    record = encode(new_envelope(event, source="/tests"))
    decoded = decode(KafkaRecord(record.key, record.value, record.headers))
    assert decoded.data == event


def test_a_reversal_undoes_exactly_the_payment():
    with pytest.raises(ValidationError, match="must equal amount"):
        f.payment_reversed(unapplied_reversed="0.00")


def test_a_return_is_published_inbound_by_the_erp_and_must_return_money():
    returned = f.payment_returned()
    assert returned.topic() == "erp.payments"
    assert returned.ce_type() == "dunlin.erp.PaymentReturned.v1"
    with pytest.raises(ValidationError, match="greater than 0"):
        f.payment_returned(amount="0.00")
    with pytest.raises(ValidationError, match="decimal"):
        f.payment_returned(currency="JPY", amount="10.50")


def test_an_adjusted_balance_never_exceeds_the_total():
    with pytest.raises(ValidationError, match="balance must not exceed total"):
        f.invoice_adjusted(balance="2000.00")


def test_only_an_upheld_dispute_credits_money():
    with pytest.raises(ValidationError, match="upheld"):
        f.dispute_resolved(outcome="rejected")
    assert f.dispute_resolved(outcome="rejected", credited_amount="0").credited_amount == 0


def test_a_plan_is_numbered_in_order_and_adds_up():
    with pytest.raises(ValidationError, match="add up"):
        f.payment_plan_agreed(total="2999.00")
    with pytest.raises(ValidationError, match="numbered"):
        f.payment_plan_agreed(
            total="1000.00",
            installments=[{"number": 2, "due_date": "2026-12-01", "amount": "1000.00"}],
        )


def test_an_installment_paid_in_full_is_not_missed():
    with pytest.raises(ValidationError, match="not paid in full"):
        f.installment_missed(amount_paid="1000.00")


def test_amounts_respect_the_currency_exponent():
    with pytest.raises(ValidationError, match="more decimals"):
        f.invoice_disputed(currency="JPY", amount="250.50")
