"""Payments from erp.payments: source ids resolved, re-sends ignored, bad ones dead-lettered."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from dunlin_events import KafkaRecord, PaymentReceived, topics
from payments.config import PaymentsSettings

from .support import amounts, publish, published, record, setup_account, unique, wait_for

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
