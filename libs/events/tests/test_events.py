from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dunlin_events import (
    AccountOverdue,
    AccountRegistered,
    Event,
    InvoiceIssued,
    PaymentReceived,
    PaymentReturned,
    UnknownEventType,
    all_events,
    event_class,
    topics,
)
from dunlin_events import testing as f


def test_every_event_is_registered_with_type_and_topic():
    assert {cls.ce_type() for cls in all_events()} >= {
        "dunlin.invoicing.AccountRegistered.v1",
        "dunlin.invoicing.InvoiceIssued.v1",
        "dunlin.invoicing.AccountOverdue.v1",
        "dunlin.payments.PaymentReceived.v1",
    }
    assert event_class("dunlin.invoicing.InvoiceIssued.v1") is InvoiceIssued
    assert InvoiceIssued.topic() == topics.INVOICING_EVENTS
    assert PaymentReceived.topic() == topics.PAYMENTS_EVENTS


def test_unknown_type_raises():
    with pytest.raises(UnknownEventType):
        event_class("dunlin.nope.Nothing.v1")


def test_topics_include_dead_letter_twins():
    assert topics.dlq_topic("erp.invoices") == "erp.invoices.dlq"
    assert set(topics.ALL_TOPICS) == set(topics.SOURCE_TOPICS) | {
        f"{t}.dlq" for t in topics.SOURCE_TOPICS
    }
    assert topics.ERP_TOPIC_EVENTS[topics.ERP_PAYMENTS] == (PaymentReceived, PaymentReturned)


def test_events_are_frozen_and_ignore_fields_added_by_newer_producers():
    event = f.payment_received()
    with pytest.raises(ValidationError):
        event.account_id = "other"  # type: ignore[misc]
    newer = PaymentReceived.model_validate_json(
        event.model_dump_json()[:-1] + ', "added_in_v1_1": "x"}'
    )
    assert newer == event, "an older consumer reads a newer message and ignores the addition"
    assert isinstance(event, Event)
    assert event.key() == event.account_id


def test_account_registered_defaults_and_validation():
    account = f.account_registered(time_zone="UTC")
    assert account.locale == "de-DE"
    assert account.contacts[0].consent.email
    assert not account.contacts[0].consent.sms
    assert (
        AccountRegistered.model_validate(
            {
                "account_id": "a",
                "name": "n",
                "currency": "JPY",
                "payment_terms": {"kind": "net", "days": 0},
            }
        ).time_zone
        == "UTC"
    )
    with pytest.raises(ValidationError, match="time zone"):
        f.account_registered(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="credit_limit"):
        f.account_registered(currency="JPY", credit_limit="10.50")
    with pytest.raises(ValidationError):
        f.account_registered(payment_terms={"kind": "net", "days": 400})


def test_invoice_totals_must_add_up():
    f.invoice_issued()
    with pytest.raises(ValidationError, match="total must equal"):
        f.invoice_issued(total="1469.07")
    with pytest.raises(ValidationError, match="subtotal must equal"):
        f.invoice_issued(subtotal="1234.51", total="1469.07")
    with pytest.raises(ValidationError, match="more decimals than EUR"):
        f.invoice_issued(subtotal="1234.501", tax_total="234.559")
    with pytest.raises(ValidationError, match="due_date"):
        f.invoice_issued(due_date="2023-12-31")


def test_invoice_from_erp_may_omit_due_date():
    assert f.invoice_issued(due_date=None).due_date is None


def test_account_overdue_is_consistent():
    event = f.account_overdue()
    assert event.as_of == datetime(2024, 2, 5, 7, tzinfo=UTC)
    with pytest.raises(ValidationError, match="threshold_days"):
        f.account_overdue(threshold_days=30)
    with pytest.raises(ValidationError, match="overdue_balance"):
        f.account_overdue(overdue_balance="299.99")
    with pytest.raises(ValidationError):
        f.account_overdue(as_of="2024-02-05T08:00:00")


def test_payment_allocations_must_balance():
    f.payment_received(allocations=[], unapplied_amount="0")
    with pytest.raises(ValidationError, match="allocations"):
        f.payment_received(unapplied_amount="0")
    with pytest.raises(ValidationError, match="greater than 0"):
        f.payment_received(amount="0", allocations=[], unapplied_amount="0")


def test_money_serialises_as_strings():
    body = f.invoice_issued().model_dump(mode="json")
    assert body["total"] == "1469.06"
    assert body["lines"][0]["quantity"] == "2"
    assert isinstance(AccountOverdue, type)
