"""An ERP publishes invoices and payments; the ledger, events and aging come out right."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from dunlin_events import (
    AccountOverdue,
    AccountRegistered,
    InvoiceIssued,
    InvoiceSettled,
    PaymentReceived,
    PaymentReturned,
    PaymentReversed,
)
from dunlin_events.topics import ERP_INVOICES, ERP_PAYMENTS, INVOICING_EVENTS, PAYMENTS_EVENTS

from .conftest import Platform
from .support import events_on, eventually, publish

pytestmark = pytest.mark.asyncio(loop_scope="session")


def erp_invoice(customer: str, ref: str, issued: str, due: str, net: str) -> InvoiceIssued:
    tax = (Decimal(net) * Decimal("0.19")).quantize(Decimal("0.01"))
    total = Decimal(net) + tax
    return InvoiceIssued.model_validate(
        {
            "invoice_id": f"{customer}/{ref}",
            "account_id": customer,
            "invoice_number": ref,
            "currency": "EUR",
            "issue_date": issued,
            "due_date": due,
            "lines": [
                {
                    "description": "Services",
                    "quantity": "1",
                    "unit_price": net,
                    "tax_rate": "19",
                    "net_amount": net,
                    "tax_amount": str(tax),
                }
            ],
            "subtotal": net,
            "tax_total": str(tax),
            "total": str(total),
        }
    )


def erp_payment(customer: str, ref: str, amount: str, remit: str | None) -> PaymentReceived:
    remittance = [{"invoice_id": f"{customer}/{remit}", "amount": amount}] if remit else []
    return PaymentReceived.model_validate(
        {
            "payment_id": f"{customer}/{ref}",
            "external_id": f"{customer}/{ref}",
            "account_id": customer,
            "amount": amount,
            "currency": "EUR",
            "method": "bank_transfer",
            "received_on": "2026-02-27",
            "remittance": remittance,
        }
    )


async def test_an_erp_feeds_invoices_and_payments_and_the_ledger_follows(
    platform: Platform,
) -> None:
    customer = f"CUST-{uuid.uuid4().hex[:6]}"
    account = AccountRegistered.model_validate(
        {
            "account_id": customer,
            "external_id": customer,
            "name": "Acme GmbH",
            "currency": "EUR",
            "payment_terms": {"kind": "net", "days": 30},
        }
    )
    invoices = [
        erp_invoice(customer, "A", "2026-01-01", "2026-01-31", "1000.00"),  # 1190.00
        erp_invoice(customer, "B", "2026-01-15", "2026-02-14", "500.00"),  # 595.00
        erp_invoice(customer, "C", "2026-02-20", "2026-03-22", "200.00"),  # 238.00
    ]
    await publish(platform.bootstrap, ERP_INVOICES, account, *invoices)
    # Paid in full with remittance for A; 300.00 without remittance goes to the oldest: B.
    await publish(
        platform.bootstrap,
        ERP_PAYMENTS,
        erp_payment(customer, "P1", "1190.00", remit="A"),
        erp_payment(customer, "P2", "300.00", remit=None),
    )

    async def ledger() -> dict[str, tuple[str, str]] | None:
        page = (await platform.invoicing.get("/invoices", params={"limit": 100})).json()
        mine = {
            i["invoice_number"]: i for i in page["items"] if i["external_id"].startswith(customer)
        }
        state = {n: (i["status"], i["balance"]) for n, i in mine.items()}
        expected = {
            "A": ("paid", "0.00"),
            "B": ("partially_paid", "295.00"),
            "C": ("open", "238.00"),
        }
        return state if state == expected else None

    state = await eventually(ledger)
    assert state["A"] == ("paid", "0.00")

    listed = (await platform.invoicing.get("/invoices", params={"limit": 100})).json()["items"]
    by_number = {i["invoice_number"]: i for i in listed if i["external_id"].startswith(customer)}
    account_id = by_number["A"]["account_id"]
    settled = await eventually(
        lambda: events_on(platform.bootstrap, INVOICING_EVENTS, InvoiceSettled, account_id)
    )
    assert [s.invoice_id for s in settled] == [by_number["A"]["id"]]
    assert settled[0].paid_amount == Decimal("1190.00")

    # Forty days on, B is 55 days overdue and C 19: one notice for the account.
    platform.clock.set(platform.clock.now().replace(month=4, day=10))
    swept = await platform.invoicing.post("/admin/overdue-sweep")
    assert swept.status_code == 200, swept.text
    (notice,) = await eventually(
        lambda: events_on(platform.bootstrap, INVOICING_EVENTS, AccountOverdue, account_id)
    )
    assert notice.overdue_balance == Decimal("533.00")
    assert notice.days_overdue == 55
    assert notice.threshold_days == 31
    assert sorted(i.invoice_id for i in notice.invoices) == sorted(
        [by_number["B"]["id"], by_number["C"]["id"]]
    )

    aging = (
        await platform.invoicing.get(
            "/reports/aging", params={"account_id": account_id, "as_of": "2026-04-10"}
        )
    ).json()
    (eur,) = aging["currencies"]
    buckets = {b["bucket"]: (b["count"], b["balance"]) for b in eur["buckets"]}
    assert buckets["current"] == (0, "0.00")
    assert buckets["1-30"] == (1, "238.00")
    assert buckets["31-60"] == (1, "295.00")
    assert buckets["61-90"] == (0, "0.00")
    assert buckets["90+"] == (0, "0.00")


async def test_a_payment_the_bank_returns_reopens_the_invoice_it_paid(platform: Platform) -> None:
    customer = f"CUST-{uuid.uuid4().hex[:6]}"
    account = AccountRegistered.model_validate(
        {
            "account_id": customer,
            "external_id": customer,
            "name": "Bounce AG",
            "currency": "EUR",
            "payment_terms": {"kind": "net", "days": 30},
        }
    )
    invoice = erp_invoice(customer, "R1", "2026-01-01", "2026-01-31", "100.00")  # 119.00
    await publish(platform.bootstrap, ERP_INVOICES, account, invoice)
    await publish(platform.bootstrap, ERP_PAYMENTS, erp_payment(customer, "P9", "119.00", "R1"))

    async def invoice_state(expected: tuple[str, str]) -> dict[str, str] | None:
        page = (await platform.invoicing.get("/invoices", params={"limit": 100})).json()
        [mine] = [i for i in page["items"] if i["external_id"] == f"{customer}/R1"] or [None]
        if mine is None or (mine["status"], mine["balance"]) != expected:
            return None
        return dict(mine)

    paid = await eventually(lambda: invoice_state(("paid", "0.00")))
    returned = PaymentReturned.model_validate(
        {
            "account_id": customer,
            "payment_id": f"{customer}/P9",
            "return_id": f"{customer}/RET-1",
            "currency": "EUR",
            "amount": "119.00",
            "reason": "bounced",
            "returned_on": "2026-03-02",
        }
    )
    await publish(platform.bootstrap, ERP_PAYMENTS, returned)

    reopened = await eventually(lambda: invoice_state(("open", "119.00")))
    assert reopened["id"] == paid["id"]
    [reversal] = await eventually(
        lambda: events_on(platform.bootstrap, PAYMENTS_EVENTS, PaymentReversed, paid["account_id"])
    )
    assert (reversal.reason, reversal.amount) == ("bounced", Decimal("119.00"))
    shown = (await platform.payments.get(f"/payments/{reversal.payment_id}")).json()
    assert shown["reversal_source_id"] == f"{customer}/RET-1"
