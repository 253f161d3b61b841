"""ERP invoices on erp.invoices: resolved, deduplicated, republished; bad ones dead-lettered."""

from __future__ import annotations

from typing import Any

import httpx
from aiokafka import ConsumerRecord
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import InvoiceIssued, KafkaRecord, topics
from invoicing.config import InvoicingSettings
from invoicing.db import AccountRow, InvoiceRow

from .support import (
    body_has,
    envelope_of,
    erp_account,
    erp_invoice,
    erp_record,
    publish,
    unique,
    wait_for,
)


async def published_invoice(settings: InvoicingSettings, erp_invoice_id: str) -> InvoiceIssued:
    [message] = await wait_for(
        settings.kafka_bootstrap_servers,
        topics.INVOICING_EVENTS,
        body_has(erp_invoice_id),
    )
    event = envelope_of(message).data
    assert isinstance(event, InvoiceIssued)
    assert event.external_id == erp_invoice_id
    return event


async def test_an_erp_invoice_becomes_a_dunlin_invoice_and_is_republished(
    client: httpx.AsyncClient, settings: InvoicingSettings
):
    erp_account_id, erp_invoice_id = unique("SAP-C"), unique("SAP-I")
    event = erp_invoice(erp_account_id, erp_invoice_id)

    await publish(settings.kafka_bootstrap_servers, settings.erp_invoices_topic, erp_record(event))

    issued = await published_invoice(settings, erp_invoice_id)
    assert issued.account_external_id == erp_account_id
    assert issued.invoice_id != erp_invoice_id
    assert issued.due_date is not None  # computed from the placeholder account's terms
    invoice = (await client.get(f"/invoices/{issued.invoice_id}")).json()
    assert invoice["external_id"] == erp_invoice_id
    assert invoice["total"] == "148.75"
    assert invoice["source"] == "erp"
    account = (await client.get(f"/accounts/{issued.account_id}")).json()
    assert account["external_id"] == erp_account_id


async def test_the_same_erp_invoice_sent_twice_is_stored_once(
    settings: InvoicingSettings, sessionmaker: async_sessionmaker[AsyncSession]
):
    erp_account_id, erp_invoice_id = unique("SAP-C"), unique("SAP-I")
    event = erp_invoice(erp_account_id, erp_invoice_id)
    marker_id = unique("SAP-I")
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_invoices_topic,
        erp_record(event),
        erp_record(event),  # a new ce_id: the inbox cannot tell, the ERP id can
        erp_record(erp_invoice(erp_account_id, marker_id)),
    )

    await published_invoice(settings, marker_id)

    async with sessionmaker() as session:
        invoices = await session.scalar(
            select(func.count()).where(InvoiceRow.external_id == erp_invoice_id)
        )
        accounts = await session.scalar(
            select(func.count()).where(AccountRow.external_id == erp_account_id)
        )
    assert (invoices, accounts) == (1, 1)


async def test_erp_master_data_sets_the_terms_of_later_invoices(
    client: httpx.AsyncClient, settings: InvoicingSettings
):
    erp_account_id, erp_invoice_id = unique("SAP-C"), unique("SAP-I")
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_invoices_topic,
        erp_record(erp_account(erp_account_id)),
        erp_record(erp_invoice(erp_account_id, erp_invoice_id)),
    )

    issued = await published_invoice(settings, erp_invoice_id)

    assert str(issued.due_date) == "2025-06-15"  # end of May + 15 days
    account = (await client.get(f"/accounts/{issued.account_id}")).json()
    assert account["name"] == f"ERP customer {erp_account_id}"


async def test_master_data_for_accounts_first_seen_on_invoices_replaces_the_placeholders(
    client: httpx.AsyncClient, settings: InvoicingSettings
):
    first, second = unique("SAP-C"), unique("SAP-C")
    invoices = {first: unique("SAP-I"), second: unique("SAP-I")}
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_invoices_topic,
        *(erp_record(erp_invoice(account, invoice)) for account, invoice in invoices.items()),
    )
    ids = {a: (await published_invoice(settings, i)).account_id for a, i in invoices.items()}

    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_invoices_topic,
        erp_record(erp_account(first)),
        erp_record(erp_account(second)),
    )
    registered = body_has("ERP customer")
    await wait_for(
        settings.kafka_bootstrap_servers,
        topics.INVOICING_EVENTS,
        lambda m: registered(m) and (body_has(first)(m) or body_has(second)(m)),
        count=2,
    )

    for erp_id, account_id in ids.items():
        account = (await client.get(f"/accounts/{account_id}")).json()
        assert account["name"] == f"ERP customer {erp_id}"
        assert account["payment_terms"] == {"kind": "end_of_month", "days": 15}
        assert "incomplete_master_data" not in account["tags"]


def dead_letter_of(key: str) -> Any:
    def match(message: ConsumerRecord[bytes, bytes]) -> bool:
        return bool(message.key == key.encode())

    return match


async def test_bad_erp_messages_are_dead_lettered_and_the_next_one_is_processed(
    settings: InvoicingSettings,
):
    erp_account_id = unique("SAP-C")
    malformed = KafkaRecord(
        key=erp_account_id.encode(),
        value=b"{not json",
        headers=[("ce_type", b"dunlin.invoicing.InvoiceIssued.v1"), ("ce_id", b"x")],
    )
    wrong_currency = erp_invoice(erp_account_id, unique("SAP-I"), currency="USD")
    good_id = unique("SAP-I")
    await publish(
        settings.kafka_bootstrap_servers,
        settings.erp_invoices_topic,
        erp_record(erp_account(erp_account_id)),
        malformed,
        erp_record(wrong_currency),
        erp_record(erp_invoice(erp_account_id, good_id)),
    )

    await published_invoice(settings, good_id)
    letters = await wait_for(
        settings.kafka_bootstrap_servers,
        topics.dlq_topic(settings.erp_invoices_topic),
        dead_letter_of(erp_account_id),
        count=2,
    )

    errors = [dict(m.headers)["dlq_error"].decode() for m in letters]
    assert any("currency mismatch" in e for e in errors), errors
    assert letters[0].value == b"{not json"
