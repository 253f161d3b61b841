"""Persistence of invoices and their lines."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.text_columns import joined_text_columns, text_array_sql, text_parameter
from invoicing.db import InvoiceLineRow, InvoiceRow
from invoicing.domain import EarlyPaymentDiscount, Invoice, InvoiceStatus, Line, Terms, Totals
from invoicing.repository.common import Stored


def _invoice(row: InvoiceRow, lines: Sequence[InvoiceLineRow]) -> Stored[Invoice]:
    discount = (
        EarlyPaymentDiscount(percent=row.discount_percent, days=row.discount_days)
        if row.discount_percent is not None and row.discount_days is not None
        else None
    )
    invoice = Invoice(
        id=row.id,
        account_id=row.account_id,
        invoice_number=row.invoice_number,
        currency=row.currency,
        issue_date=row.issue_date,
        due_date=row.due_date,
        terms=Terms(kind="net" if row.terms_kind == "net" else "end_of_month", days=row.terms_days),
        lines=tuple(
            Line(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                net_minor=line.net_minor,
                tax_minor=line.tax_minor,
            )
            for line in sorted(lines, key=lambda x: x.line_no)
        ),
        totals=Totals(subtotal_minor=row.subtotal_minor, tax_total_minor=row.tax_total_minor),
        balance_minor=row.balance_minor,
        status=row.status,  # type: ignore[arg-type]
        source="erp" if row.source == "erp" else "api",
        external_id=row.external_id,
        early_payment_discount=discount,
        purchase_order=row.purchase_order,
        source_fingerprint=row.source_fingerprint,
        paid_minor=row.paid_minor,
        written_off_minor=row.written_off_minor,
        disputed_minor=row.disputed_minor,
        settled_on=row.settled_on,
        total_adjustment_minor=row.total_minor - row.subtotal_minor - row.tax_total_minor,
    )
    return Stored(item=invoice, seq=row.seq, created_at=row.created_at)


async def _with_lines(session: AsyncSession, rows: Sequence[InvoiceRow]) -> list[Stored[Invoice]]:
    """Attach lines to invoice rows with one query for the whole page."""
    if not rows:
        return []
    by_invoice: dict[str, list[InvoiceLineRow]] = defaultdict(list)
    lines = await session.scalars(
        select(InvoiceLineRow).where(InvoiceLineRow.invoice_id.in_([r.id for r in rows]))
    )
    for line in lines:
        by_invoice[line.invoice_id].append(line)
    return [_invoice(row, by_invoice[row.id]) for row in rows]


async def get_invoice(*, session: AsyncSession, invoice_id: str) -> Stored[Invoice] | None:
    """One invoice with its lines."""
    row = await session.get(InvoiceRow, invoice_id)
    if row is None:
        return None
    return (await _with_lines(session, [row]))[0]


async def list_invoices(
    *,
    session: AsyncSession,
    account_id: str | None,
    status: InvoiceStatus | None,
    after: tuple[dt.date, int] | None,
    limit: int,
) -> list[Stored[Invoice]]:
    """Invoices newest issue date first, keyset-paginated on (issue_date, seq)."""
    query = (
        select(InvoiceRow)
        .order_by(InvoiceRow.issue_date.desc(), InvoiceRow.seq.desc())
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(InvoiceRow.account_id == account_id)
    if status is not None:
        query = query.where(InvoiceRow.status == status)
    if after is not None:
        query = query.where(tuple_(InvoiceRow.issue_date, InvoiceRow.seq) < tuple_(*after))
    return await _with_lines(session, list(await session.scalars(query)))


# One array parameter each, whatever the batch size: one cached, prepared statement. An IN
# list of N values is N bind parameters, compiled and planned anew for every N, and its
# tuple form ((a, b) IN (...)) is an OR of N pairs for PostgreSQL to plan and evaluate.
# Each lookup by whether its ids travel as one joined text (True) or as text[] (False), see
# `dunlin_platform.text_columns`: a joined text is one string for asyncpg to check and encode
# where an array is every element (ERP ingestion looks up every invoice of a batch).
_FINGERPRINTS = {
    joined: text(
        "SELECT external_id, source_fingerprint FROM invoicing.invoices"  # noqa: S608
        f" WHERE external_id = ANY({text_array_sql('external_ids', joined=joined)})"
    )
    for joined in (True, False)
}
_TAKEN_NUMBERS = {
    joined: text(
        "SELECT i.account_id, i.invoice_number FROM invoicing.invoices i JOIN unnest("  # noqa: S608
        f"{text_array_sql('account_ids', joined=joined)}, "
        f"{text_array_sql('numbers', joined=joined)}) AS n(account_id, invoice_number)"
        " ON i.account_id = n.account_id AND i.invoice_number = n.invoice_number"
    )
    for joined in (True, False)
}


async def fingerprints_by_external_id(
    *, session: AsyncSession, external_ids: Collection[str]
) -> dict[str, str | None]:
    """Source fingerprints of the invoices with these external ids, in one query."""
    if not external_ids:
        return {}
    joined, ids = text_parameter(list(external_ids))
    rows = await session.execute(_FINGERPRINTS[joined], {"external_ids": ids})
    return {ext: fp for ext, fp in rows if ext is not None}


async def taken_invoice_numbers(
    *, session: AsyncSession, numbers: Collection[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (account_id, invoice_number) pairs already exist, in one query."""
    if not numbers:
        return set()
    account_ids, invoice_numbers = zip(*numbers, strict=True)
    columns = {"account_ids": list(account_ids), "numbers": list(invoice_numbers)}
    joined = joined_text_columns(columns)
    rows = await session.execute(_TAKEN_NUMBERS[joined is not None], joined or columns)
    return {(account_id, number) for account_id, number in rows}
