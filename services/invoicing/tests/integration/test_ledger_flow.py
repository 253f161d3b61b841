"""The ledger through the real consumer: held payment, settlement, duplicates, reversal."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import (
    Allocation,
    InvoiceSettled,
    PaymentReceived,
    PaymentReversed,
    encode,
    new_envelope,
    topics,
)
from invoicing.db import HeldAllocationRow, LedgerEntryRow

from .support import account_body, body_has, envelope_of, invoice_body, publish, unique, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")
LINES = [{"description": "Service", "quantity": "1", "unit_price": "100.00", "tax_rate": "0"}]


async def _eventually(check: object, within_s: float = 20.0) -> None:
    async with asyncio.timeout(within_s):
        while not await check():  # type: ignore[operator]  # noqa: ASYNC110 (polling another process)
            await asyncio.sleep(0.2)


async def test_payment_before_its_invoice_is_held_then_settles_and_a_reversal_reopens(
    client: httpx.AsyncClient,
    kafka_bootstrap_servers: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account = (await client.post("/accounts", json=account_body())).json()
    external = unique("ERP-INV")
    payment_id = unique("pay")
    paid = PaymentReceived(
        account_id=account["id"],
        payment_id=payment_id,
        amount=Decimal("100.00"),
        currency="EUR",
        method="bank_transfer",
        received_on=dt.date(2025, 4, 20),
        allocations=[Allocation(invoice_id=external, amount=Decimal("100.00"))],
    )
    record = encode(new_envelope(paid, source="/dunlin/payments"))
    await publish(kafka_bootstrap_servers, topics.PAYMENTS_EVENTS, record)

    async def held() -> bool:
        async with sessionmaker() as session:
            status = await session.scalar(
                select(HeldAllocationRow.status).where(HeldAllocationRow.payment_id == payment_id)
            )
        return status == "held"

    await _eventually(held)
    created = await client.post(
        "/invoices", json=invoice_body(account["id"], external_id=external, lines=LINES)
    )
    assert created.status_code == 201, created.text
    invoice = created.json()
    assert (invoice["status"], invoice["balance"]) == ("paid", "0.00")

    settled = await wait_for(
        kafka_bootstrap_servers, topics.INVOICING_EVENTS, body_has(invoice["id"], "settled_on")
    )
    event = envelope_of(settled[0]).data
    assert isinstance(event, InvoiceSettled)
    assert event.settled_on == dt.date(2025, 4, 20)
    assert (
        event.days_late == (dt.date(2025, 4, 20) - dt.date.fromisoformat(invoice["due_date"])).days
    )

    async def entries() -> int:
        async with sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).where(LedgerEntryRow.invoice_id == invoice["id"])
            )
        return int(count or 0)

    assert await entries() == 2  # invoice + payment
    await publish(kafka_bootstrap_servers, topics.PAYMENTS_EVENTS, record, record)
    reversal = PaymentReversed(
        account_id=account["id"],
        payment_id=payment_id,
        reversal_id=unique("rev"),
        currency="EUR",
        amount=Decimal("100.00"),
        reason="bounced",
        reversed_on=dt.date(2025, 4, 25),
        allocations=[Allocation(invoice_id=invoice["id"], amount=Decimal("100.00"))],
    )
    await publish(
        kafka_bootstrap_servers,
        topics.PAYMENTS_EVENTS,
        encode(new_envelope(reversal, source="/dunlin/payments")),
    )

    async def reopened() -> bool:
        body = (await client.get(f"/invoices/{invoice['id']}")).json()
        return bool(body["status"] == "open" and body["balance"] == "100.00")

    await _eventually(reopened)
    assert await entries() == 3  # the duplicates changed nothing; the reversal is one entry


async def test_credit_note_dispute_and_invalid_transitions(client: httpx.AsyncClient) -> None:
    account = (await client.post("/accounts", json=account_body())).json()
    invoice = (await client.post("/invoices", json=invoice_body(account["id"], lines=LINES))).json()
    url = f"/invoices/{invoice['id']}"
    credited = await client.post(f"{url}/credit-notes", json={"amount": "10.00", "reason": "x"})
    assert credited.status_code == 201, credited.text
    assert (credited.json()["total"], credited.json()["balance"]) == ("90.00", "90.00")
    too_much = await client.post(f"{url}/credit-notes", json={"amount": "95.00", "reason": "x"})
    assert too_much.status_code == 409
    dispute = await client.post(
        f"{url}/disputes", json={"amount": "20.00", "reason": "quality", "note": "scratched"}
    )
    assert dispute.status_code == 201, dispute.text
    assert dispute.json()["opened_by"].startswith("test-")
    open_ones = (await client.get(f"{url}/disputes")).json()["items"]
    assert [d["status"] for d in open_ones] == ["open"]
    resolved = await client.post(
        f"/disputes/{dispute.json()['id']}/resolve",
        json={"outcome": "upheld", "credit_amount": "20.00"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["credit_note_id"]
    assert (await client.get(url)).json()["balance"] == "70.00"
    written_off = await client.post(f"{url}/write-off", json={"reason": "insolvent"})
    assert (written_off.json()["status"], written_off.json()["balance"]) == ("written_off", "0.00")
    refused = await client.post(f"{url}/cancel", json={})
    assert refused.status_code == 409
    assert refused.json()["current_status"] == "written_off"
