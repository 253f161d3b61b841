"""Searchable span attributes: ids and codes of the event, never personal data."""

from __future__ import annotations

import json

from dunlin_events import testing as f
from dunlin_platform.spans import event_attributes


def test_a_notification_request_is_searchable_by_case_step_channel_and_invoices():
    event = f.notification_requested()
    attributes = event_attributes(event)
    assert attributes["dunlin.case_id"] == event.case_id
    assert attributes["dunlin.dunning_step"] == "reminder"
    assert attributes["dunlin.channel"] == "email"
    assert attributes["dunlin.notification_id"] == event.notification_id
    assert attributes["dunlin.invoice_ids"] == [event.invoices[0].invoice_id]


def test_attributes_read_the_same_from_the_json_payload_the_relay_sees():
    event = f.invoice_issued()
    from_json = event_attributes(json.loads(event.model_dump_json()))
    assert from_json == event_attributes(event) == {"dunlin.invoice_id": event.invoice_id}


def test_no_personal_data_reaches_the_attributes():
    event = f.notification_requested()
    values = json.dumps(event_attributes(event))
    recipient = event.recipient
    assert recipient.email is not None
    assert recipient.phone is not None
    for personal in (recipient.name, recipient.email, recipient.phone, event.account_name):
        assert personal not in values
