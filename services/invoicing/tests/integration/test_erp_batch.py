"""The ERP batch handler applied directly in a transaction, and the lookups it resolves with."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import Event, new_envelope
from dunlin_platform.consumer import RejectEvent
from dunlin_platform.runtime import ServiceRuntime
from invoicing import repository
from invoicing.db import InvoiceLineRow, InvoiceRow
from invoicing.ingest import ErpIngest, fingerprint

from .support import erp_account, erp_invoice, unique


async def apply(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], *events: Event
) -> None:
    """One ERP batch, as the consumer applies it: one transaction, the events in order."""
    runtime = app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    handler = ErpIngest(outbox=runtime.outbox, clock=runtime.clock)
    envelopes = [new_envelope(e, source="/erp/sap") for e in events]
    async with sessionmaker() as session, session.begin():
        await handler(session, envelopes)


async def stored(
    sessionmaker: async_sessionmaker[AsyncSession], erp_id: str, *columns: Any
) -> list[tuple[Any, ...]]:
    """These columns of the invoices stored under the ERP's invoice id."""
    async with sessionmaker() as session:
        query = select(*columns).where(InvoiceRow.external_id == erp_id)
        return [tuple(row) for row in await session.execute(query)]


_TERMS = (
    InvoiceRow.terms_kind,
    InvoiceRow.terms_days,
    InvoiceRow.discount_percent,
    InvoiceRow.discount_days,
    InvoiceRow.due_date,
)


async def test_a_batch_resolves_known_new_and_repeated_invoices_by_the_erp_ids(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, other = unique("SAP-C"), unique("SAP-C")
    first, second = erp_invoice(customer, unique("SAP-I")), erp_invoice(other, unique("SAP-I"))
    await apply(app, sessionmaker, erp_account(customer), first, first, second)
    # Sent again in a later batch beside a new one: only the new one is stored.
    third = erp_invoice(customer, unique("SAP-I"))
    await apply(app, sessionmaker, second, third)

    async with sessionmaker() as session:
        accounts = await repository.accounts_by_external_id(
            session=session, external_ids=[customer, other, customer, unique("SAP-C")]
        )
        ids = [first.invoice_id, second.invoice_id, third.invoice_id, unique("SAP-I")]
        known = await repository.fingerprints_by_external_id(
            session=session, external_ids=[*ids, first.invoice_id]
        )
        stored = await session.scalar(select(func.count()).where(InvoiceRow.external_id.in_(ids)))
    assert set(accounts) == {customer, other}
    assert known == {e.invoice_id: fingerprint(e) for e in (first, second, third)}
    assert stored == 3


async def test_taken_numbers_are_matched_per_account_and_number_pair(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, other = unique("SAP-C"), unique("SAP-C")
    invoice = erp_invoice(customer, unique("SAP-I"))
    await apply(app, sessionmaker, erp_account(customer), erp_account(other), invoice)

    async with sessionmaker() as session:
        accounts = await repository.accounts_by_external_id(
            session=session, external_ids=[customer, other]
        )
        mine, theirs = accounts[customer][0].id, accounts[other][0].id
        number = invoice.invoice_number
        taken = await repository.taken_invoice_numbers(
            session=session,
            numbers=[(mine, number), (mine, number), (theirs, number), (mine, "N-none")],
        )
        nothing = await repository.taken_invoice_numbers(session=session, numbers=[])
    assert taken == {(mine, number)}
    assert nothing == set()


async def test_an_invoice_number_taken_under_another_erp_id_refuses_the_batch(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer = unique("SAP-C")
    invoice = erp_invoice(customer, unique("SAP-I"))
    await apply(app, sessionmaker, invoice)
    twin = erp_invoice(customer, unique("SAP-I"), invoice_number=invoice.invoice_number)

    with pytest.raises(RejectEvent, match="already exists on account"):
        await apply(app, sessionmaker, twin)
    # Within one batch too: the first of the two keeps the number.
    newer, clash = unique("SAP-I"), unique("SAP-I")
    with pytest.raises(RejectEvent, match="already exists on account"):
        await apply(
            app,
            sessionmaker,
            erp_invoice(customer, newer),
            erp_invoice(customer, clash, invoice_number=f"N-{newer}"),
        )


async def test_new_content_for_a_known_invoice_is_an_amendment_not_a_new_invoice(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, erp_id = unique("SAP-C"), unique("SAP-I")
    await apply(app, sessionmaker, erp_invoice(customer, erp_id))
    amended = erp_invoice(customer, erp_id, due_date=dt.date(2025, 7, 1))

    await apply(app, sessionmaker, amended)

    assert await stored(
        sessionmaker, erp_id, InvoiceRow.due_date, InvoiceRow.source_fingerprint
    ) == [(dt.date(2025, 7, 1), fingerprint(amended))]


async def test_an_amended_issue_date_without_a_due_date_moves_the_due_date_with_it(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, erp_id = unique("SAP-C"), unique("SAP-I")
    await apply(app, sessionmaker, erp_invoice(customer, erp_id))  # 2 May, net 30: 1 June

    await apply(app, sessionmaker, erp_invoice(customer, erp_id, issue_date=dt.date(2025, 8, 1)))

    assert await stored(sessionmaker, erp_id, InvoiceRow.issue_date, InvoiceRow.due_date) == [
        (dt.date(2025, 8, 1), dt.date(2025, 8, 31))
    ]


async def test_an_amendment_with_new_terms_or_discount_stores_them(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, erp_id = unique("SAP-C"), unique("SAP-I")
    await apply(app, sessionmaker, erp_invoice(customer, erp_id))  # the account's terms
    terms = {"kind": "end_of_month", "days": 10}
    discount = {"percent": Decimal("2"), "days": 10}

    await apply(
        app,
        sessionmaker,
        erp_invoice(customer, erp_id, payment_terms=terms, early_payment_discount=discount),
    )
    # 2 May, end of month + 10 days.
    assert await stored(sessionmaker, erp_id, *_TERMS) == [
        ("end_of_month", 10, Decimal("2.0000"), 10, dt.date(2025, 6, 10))
    ]

    # Sent again without a discount: the ERP's invoice has none any more.
    await apply(app, sessionmaker, erp_invoice(customer, erp_id, payment_terms=terms))
    assert await stored(sessionmaker, erp_id, *_TERMS) == [
        ("end_of_month", 10, None, None, dt.date(2025, 6, 10))
    ]


async def test_a_known_erp_invoice_sent_under_another_account_or_number_is_refused(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer, erp_id = unique("SAP-C"), unique("SAP-I")
    original = erp_invoice(customer, erp_id)
    await apply(app, sessionmaker, original)
    moved = erp_invoice(unique("SAP-C"), erp_id, due_date=dt.date(2025, 7, 1))
    renumbered = erp_invoice(customer, erp_id, invoice_number=unique("N"))

    with pytest.raises(RejectEvent, match=f"belongs to account {customer}"):
        await apply(app, sessionmaker, moved)
    with pytest.raises(RejectEvent, match=f"is number {original.invoice_number}"):
        await apply(app, sessionmaker, renumbered)

    assert await stored(
        sessionmaker, erp_id, InvoiceRow.due_date, InvoiceRow.source_fingerprint
    ) == [(dt.date(2025, 6, 1), fingerprint(original))]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Widgets, 10 mm", id="texts joined into one string each"),
        pytest.param("Widgets\x1f10\x1emm", id="texts holding the separators, sent as arrays"),
    ],
)
async def test_stored_invoices_and_lines_hold_exactly_what_the_erp_sent(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], text: str
) -> None:
    customer = unique("SAP-C")
    plain = erp_invoice(customer, unique("SAP-I"))
    lines = [plain.lines[0].model_copy(update={"description": text})]
    odd = erp_invoice(
        customer,
        unique("SAP-I") + text,  # the ERP's ids and numbers too, for the lookups
        invoice_number=f"N {text}",
        lines=lines,
        purchase_order=f"PO {text}",
    )
    await apply(app, sessionmaker, plain, odd)
    # Sent again: known by the ERP id and fingerprint, so nothing is stored twice.
    await apply(app, sessionmaker, odd, plain)
    async with sessionmaker() as session:
        known = await repository.fingerprints_by_external_id(
            session=session, external_ids=[plain.invoice_id, odd.invoice_id]
        )
        account_id = (
            await repository.accounts_by_external_id(session=session, external_ids=[customer])
        )[customer][0].id
        taken = await repository.taken_invoice_numbers(
            session=session,
            numbers=[(account_id, plain.invoice_number), (account_id, odd.invoice_number)],
        )
    assert known == {plain.invoice_id: fingerprint(plain), odd.invoice_id: fingerprint(odd)}
    assert taken == {(account_id, plain.invoice_number), (account_id, odd.invoice_number)}

    async with sessionmaker() as session:
        stored = {
            row.external_id: row
            for row in await session.scalars(
                select(InvoiceRow).where(
                    InvoiceRow.external_id.in_([plain.invoice_id, odd.invoice_id])
                )
            )
        }
        lines_by_invoice = {
            row.invoice_id: row
            for row in await session.scalars(
                select(InvoiceLineRow).where(
                    InvoiceLineRow.invoice_id.in_([r.id for r in stored.values()])
                )
            )
        }
    for sent in (plain, odd):
        row = stored[sent.invoice_id]
        line = lines_by_invoice[row.id]
        assert (row.invoice_number, row.purchase_order, row.source_fingerprint) == (
            sent.invoice_number,
            sent.purchase_order,
            fingerprint(sent),
        )
        assert (line.description, line.quantity, line.unit_price, line.tax_rate) == (
            sent.lines[0].description,
            sent.lines[0].quantity,
            sent.lines[0].unit_price,
            sent.lines[0].tax_rate,
        )
    assert lines_by_invoice[stored[odd.invoice_id].id].description == text
