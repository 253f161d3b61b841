"""Payments from erp.payments: source ids resolved, re-sends ignored, bad ones dead-lettered."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from dunlin_devstack.topics import read_topic
from dunlin_events import KafkaRecord, PaymentReceived, PaymentReturned, PaymentReversed, topics
from dunlin_events.testing import payment_returned
from payments.config import PaymentsSettings

from .support import (
    amounts,
    eventually,
    publish,
    published,
    record,
    setup_account,
    unique,
    wait_for,
)

JAN, FEB = dt.date(2025, 1, 31), dt.date(2025, 2, 28)


def erp_payment(erp_account_id: str, amount: str, **overrides: Any) -> PaymentReceived:
    fields: dict[str, Any] = {
        "account_id": erp_account_id,
        "payment_id": unique("BANK"),
        "amount": amount,
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2025-06-02",
    }
    return PaymentReceived.model_validate({**fields, **overrides})


async def send(settings: PaymentsSettings, *records: KafkaRecord) -> None:
    await publish(settings.kafka_bootstrap_servers, settings.erp_payments_topic, *records)


async def test_an_erp_payment_is_recorded_once_with_dunlin_ids_and_its_remittance(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (older, newer) = await setup_account(client, settings, ("100.00", JAN), ("40.00", FEB))
    assert acc.external_id is not None
    payment = erp_payment(
        acc.external_id,
        "40.00",
        remittance=[{"invoice_id": newer.external_id, "amount": "40.00"}],
    )
    marker = erp_payment(acc.external_id, "1.00")
    erp = {"source": "/erp/sap"}

    # Sent twice with different ce_ids: the inbox cannot tell, the source's id can.
    await send(settings, record(payment, **erp), record(payment, **erp), record(marker, **erp))

    [event] = await published(settings, PaymentReceived, payment.payment_id)
    assert event.account_id == acc.account_id
    assert event.payment_id != payment.payment_id
    assert event.external_id == payment.payment_id
    assert amounts(event.allocations) == {newer.invoice_id: Decimal("40.00")}
    await published(settings, PaymentReceived, marker.payment_id)
    listed = (await client.get("/payments", params={"account_id": acc.account_id})).json()
    assert sorted(p["external_id"] for p in listed["items"]) == sorted(
        [payment.payment_id, marker.payment_id]
    )
    view = (await client.get(f"/accounts/{acc.account_id}/ledger")).json()
    # The marker's 1.00 had no remittance, so it went to the oldest open invoice.
    assert {i["id"]: i["balance"] for i in view["open_invoices"]} == {older.invoice_id: "99.00"}


def dead_letter_with(source_id: str) -> Any:
    def match(message: ConsumerRecord[bytes, bytes]) -> bool:
        return source_id.encode() in (message.value or b"")

    return match


async def test_bad_erp_payments_are_dead_lettered_with_a_reason_and_the_next_is_processed(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings, ("10.00", JAN))
    assert acc.external_id is not None
    foreign = erp_payment(acc.external_id, "5.00", currency="USD")
    malformed = KafkaRecord(
        key=b"x",
        value=b"{not json",
        headers=[
            ("ce_type", b"dunlin.payments.PaymentReceived.v1"),
            ("ce_id", uuid.uuid4().hex.encode()),
        ],
    )
    good = erp_payment(acc.external_id, "10.00")
    erp = {"source": "/erp/sap"}

    await send(settings, malformed, record(foreign, **erp), record(good, **erp))

    await published(settings, PaymentReceived, good.payment_id)
    dlq = topics.dlq_topic(settings.erp_payments_topic)
    bootstrap = settings.kafka_bootstrap_servers
    [mismatch] = await wait_for(bootstrap, dlq, dead_letter_with(foreign.payment_id))
    assert b"currency mismatch" in dict(mismatch.headers)["dlq_error"]
    await wait_for(bootstrap, dlq, lambda m: m.value == b"{not json")


def erp_return(erp_account_id: str, payment: PaymentReceived, **overrides: Any) -> PaymentReturned:
    fields: dict[str, Any] = {
        "account_id": erp_account_id,
        "payment_id": payment.external_id or payment.payment_id,
        "currency": payment.currency,
        "amount": str(payment.amount),
        "reason": "bounced",
        "returned_on": "2025-06-09",
    }
    return payment_returned(**{**fields, **overrides})


async def test_an_erp_return_reverses_its_payment_once_and_reopens_the_invoices(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, (older, newer) = await setup_account(client, settings, ("100.00", JAN), ("40.00", FEB))
    assert acc.external_id is not None
    payment = erp_payment(acc.external_id, "120.00", external_id=unique("BANK-REF"))
    returned = erp_return(acc.external_id, payment, reason="chargeback")
    marker = erp_payment(acc.external_id, "1.00")
    erp = {"source": "/erp/sap"}

    # The return is re-sent with another ce_id; both follow the payment on its partition.
    await send(settings, record(payment, **erp), record(returned, **erp), record(returned, **erp))
    await send(settings, record(marker, **erp))

    [received] = await published(settings, PaymentReceived, payment.external_id or "")
    await published(settings, PaymentReceived, marker.payment_id)
    reversals = await read_topic(
        settings.kafka_bootstrap_servers,
        topics.PAYMENTS_EVENTS,
        lambda m: (
            dict(m.headers).get("ce_type") == PaymentReversed.ce_type().encode()
            and received.payment_id.encode() in (m.value or b"")
        ),
    )
    assert len(reversals) == 1
    [reversal] = await published(settings, PaymentReversed, received.payment_id)
    assert reversal.reason == "chargeback"
    assert reversal.reversed_on == returned.returned_on
    assert reversal.amount == Decimal("120.00")
    assert amounts(reversal.allocations) == amounts(received.allocations)
    shown = (await client.get(f"/payments/{received.payment_id}")).json()
    assert shown["status"] == "reversed"
    assert shown["reversal_source_id"] == returned.return_id
    view = (await client.get(f"/accounts/{acc.account_id}/ledger")).json()
    # Reopened in full; only the marker's 1.00 (oldest due first) stays applied.
    assert {i["id"]: i["balance"] for i in view["open_invoices"]} == {
        older.invoice_id: "99.00",
        newer.invoice_id: "40.00",
    }


async def test_returns_of_unknown_or_partial_payments_are_dead_lettered_with_the_reason(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    acc, _ = await setup_account(client, settings, ("50.00", JAN))
    assert acc.external_id is not None
    payment = erp_payment(acc.external_id, "50.00")
    never_sent = erp_return(acc.external_id, erp_payment(acc.external_id, "5.00"))
    partial = erp_return(acc.external_id, payment, amount="20.00")
    erp = {"source": "/erp/sap"}

    await send(settings, record(payment, **erp), record(never_sent, **erp), record(partial, **erp))

    [received] = await published(settings, PaymentReceived, payment.payment_id)
    dlq = topics.dlq_topic(settings.erp_payments_topic)
    bootstrap = settings.kafka_bootstrap_servers
    [unknown] = await wait_for(bootstrap, dlq, dead_letter_with(never_sent.return_id))
    assert b"was never received" in dict(unknown.headers)["dlq_error"]
    [refused] = await wait_for(bootstrap, dlq, dead_letter_with(partial.return_id))
    assert b"whole payments only" in dict(refused.headers)["dlq_error"]
    shown = (await client.get(f"/payments/{received.payment_id}")).json()
    assert shown["status"] == "received"


async def test_an_external_id_taken_by_another_account_is_dead_lettered_not_dropped(
    client: httpx.AsyncClient, settings: PaymentsSettings
):
    first, _ = await setup_account(client, settings, ("50.00", JAN))
    other, _ = await setup_account(client, settings, ("50.00", JAN))
    assert first.external_id is not None
    assert other.external_id is not None
    bank_ref = unique("BANK-REF")
    payment = erp_payment(first.external_id, "20.00", external_id=bank_ref)
    resent = erp_payment(first.external_id, "20.00", external_id=bank_ref)  # same account
    clash = erp_payment(other.external_id, "30.00", external_id=bank_ref)
    unknown_erp = unique("SAP-C")
    held = erp_payment(unknown_erp, "5.00", external_id=unique("BANK-REF"))
    held_clash = erp_payment(other.external_id, "5.00", external_id=held.external_id)
    first_marker = erp_payment(first.external_id, "1.00")
    marker = erp_payment(other.external_id, "1.00")
    erp = {"source": "/erp/sap"}
    bootstrap = settings.kafka_bootstrap_servers

    # Keyed by ERP account, so on other partitions: the clashes go only once the first are in.
    await send(
        settings,
        record(payment, **erp),
        record(resent, **erp),
        record(first_marker, **erp),
        record(held, **erp),
    )
    [received] = await published(settings, PaymentReceived, bank_ref)
    assert received.account_id == first.account_id
    await published(settings, PaymentReceived, first_marker.payment_id)

    async def is_held() -> bool:
        waiting = await client.get("/payments/pending", params={"erp_account_id": unknown_erp})
        return bool(waiting.json()["items"])

    await eventually(is_held, what="the held payment")
    await send(settings, record(clash, **erp), record(held_clash, **erp), record(marker, **erp))

    await published(settings, PaymentReceived, marker.payment_id)
    dlq = topics.dlq_topic(settings.erp_payments_topic)
    [recorded_clash] = await wait_for(bootstrap, dlq, dead_letter_with(clash.payment_id))
    error = dict(recorded_clash.headers)["dlq_error"]
    assert bank_ref.encode() in error
    assert b"another account" in error
    [held_conflict] = await wait_for(bootstrap, dlq, dead_letter_with(held_clash.payment_id))
    assert b"another account" in dict(held_conflict.headers)["dlq_error"]
    # The re-send on the same account stays harmless: one payment, not dead-lettered.
    listed = (await client.get("/payments", params={"account_id": first.account_id})).json()
    assert [p["external_id"] for p in listed["items"]] == [bank_ref, first_marker.payment_id]
    assert not await read_topic(bootstrap, dlq, dead_letter_with(resent.payment_id))
    others = (await client.get("/payments", params={"account_id": other.account_id})).json()
    assert [p["external_id"] for p in others["items"]] == [marker.payment_id]
