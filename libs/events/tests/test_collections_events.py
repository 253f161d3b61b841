"""Dunning, notifications and risk contracts: round trips and their invariants."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dunlin_events import decode, encode, event_class, new_envelope, topics
from dunlin_events import testing as f
from dunlin_events.base import Event

FACTORIES = [
    f.dunning_step_executed,
    f.notification_requested,
    f.collector_task_created,
    f.collector_task_completed,
    f.promise_to_pay_recorded,
    f.promise_to_pay_kept,
    f.promise_to_pay_broken,
    f.account_handed_to_agency,
    f.dunning_case_closed,
    f.dunning_hold_changed,
    f.notification_sent,
    f.notification_delivered,
    f.notification_failed,
    f.risk_assessed,
    f.credit_limit_recommended,
    f.external_signal_reported,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda fn: fn.__name__)
def test_every_collections_event_survives_the_kafka_round_trip(factory):
    event: Event = factory()
    assert event_class(event.ce_type()) is type(event)
    envelope = decode(encode(new_envelope(event, source="/dunlin/test")))
    assert envelope.data == event


def test_producers_publish_on_their_own_topics():
    assert f.notification_requested().topic() == topics.DUNNING_EVENTS
    assert f.notification_failed().topic() == topics.NOTIFICATIONS_EVENTS
    assert f.risk_assessed().topic() == topics.RISK_EVENTS
    signal = f.external_signal_reported()
    assert signal.topic() == topics.RISK_SIGNALS
    assert type(signal) in topics.ERP_TOPIC_EVENTS[topics.RISK_SIGNALS]
    assert topics.dlq_topic(topics.RISK_SIGNALS) in topics.ALL_TOPICS


def test_a_request_lists_invoices_that_add_up_to_its_balance():
    request = f.notification_requested()
    with pytest.raises(ValidationError, match="dunned_balance must equal"):
        f.notification_requested(dunned_balance="1.00", total_due="1.00")
    with pytest.raises(ValidationError, match="total_due must equal"):
        f.notification_requested(total_due="2000.00")
    charged = f.notification_requested(
        charges=[{"kind": "fee", "description": "Reminder fee", "amount": "5.00"}],
        total_due=str(request.dunned_balance + 5),
    )
    assert charged.total_due == request.dunned_balance + 5


def test_a_request_never_falls_back_to_its_own_channel_and_agency_needs_a_case_file():
    with pytest.raises(ValidationError, match="must not repeat"):
        f.notification_requested(fallback_channels=["email"])
    with pytest.raises(ValidationError, match="case_file"):
        f.notification_requested(channel="agency", fallback_channels=[])


def test_invoices_of_a_step_are_unique_and_respect_the_currency():
    step = f.dunning_step_executed()
    twice = [step.invoices[0].model_dump(mode="json")] * 2
    with pytest.raises(ValidationError, match="unique"):
        f.dunning_step_executed(invoices=twice, dunned_balance="2380.00")
    inv = step.invoices[0].model_dump(mode="json") | {"balance": "10.50"}
    with pytest.raises(ValidationError, match="more decimals"):
        f.dunning_step_executed(currency="JPY", invoices=[inv], dunned_balance="10.50")


def test_a_promise_is_for_a_positive_amount():
    with pytest.raises(ValidationError, match="greater than 0"):
        f.promise_to_pay_recorded(amount="0.00")


def test_scores_and_severities_are_bounded():
    with pytest.raises(ValidationError):
        f.risk_assessed(score=101)
    with pytest.raises(ValidationError):
        f.external_signal_reported(severity=0)
    with pytest.raises(ValidationError):
        f.risk_assessed(
            reasons=[{"code": "lower", "label": "x", "value": 1, "weight": 1, "contribution": 1}]
        )
