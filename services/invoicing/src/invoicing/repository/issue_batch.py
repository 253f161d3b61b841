"""POST /invoices batches stored on a bare asyncpg connection, outbox rows included.

The issue path's transaction is BEGIN, one share lock of the batch's accounts, one statement
for invoices + lines + opening entries + aging marks + the InvoiceIssued outbox rows of the
invoices it kept, and COMMIT. Through an `AsyncSession` the same work cost ~1.5 ms of client
CPU per batch more (session and transaction bookkeeping, statement compilation, result
adaptation); here it is the driver's own prepared statements. The rows are the ones the
general path writes (`share_lock_accounts`, `insert_new_invoices`, `Outbox.add_many`):
integration tests hold the two to the same outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import asyncpg

from dunlin_events import Contact, InvoiceIssued
from invoicing.domain import Account, Invoice, Terms
from invoicing.repository.new_invoices import (
    _ARRAYS,
    _INVOICE_ARRAYS,
    _LINE_ARRAYS,
    _NOW,
    StoredIds,
    _columns,
    _unnest,
)

_ACCOUNT_COLUMNS = (
    "id, external_id, name, legal_name, currency, country, time_zone, locale, terms_kind,"
    " terms_days, credit_limit_minor, tags, parent_account_id, dunning_policy, contacts"
)
# In id order, like `share_lock_accounts`: concurrent batches take their locks in one order.
_SHARE_LOCK = (
    f"SELECT {_ACCOUNT_COLUMNS} FROM invoicing.accounts"  # noqa: S608 (constants only)
    " WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE"
)


def _account(row: asyncpg.Record) -> Account:
    """The account as `repository.accounts` reads it through SQLAlchemy."""
    return Account(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        legal_name=row["legal_name"],
        currency=row["currency"],
        country=row["country"],
        time_zone=row["time_zone"],
        locale=row["locale"],
        terms=Terms(
            kind="net" if row["terms_kind"] == "net" else "end_of_month", days=row["terms_days"]
        ),
        credit_limit_minor=row["credit_limit_minor"],
        tags=tuple(row["tags"]),
        parent_account_id=row["parent_account_id"],
        dunning_policy=row["dunning_policy"],
        contacts=tuple(Contact.model_validate(c) for c in _json(row["contacts"])),
    )


def _json(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """jsonb as decoded by the codec SQLAlchemy's dialect registers, or as asyncpg's text."""
    return json.loads(value) if isinstance(value, str) else value


async def share_lock_accounts(
    *, connection: asyncpg.Connection, account_ids: Collection[str]
) -> dict[str, Account]:
    """Accounts by Dunlin id, locked FOR SHARE until the transaction ends."""
    if not account_ids:
        return {}
    rows = await connection.fetch(_SHARE_LOCK, sorted(account_ids))
    return {row["id"]: _account(row) for row in rows}


class IssuedEvent(NamedTuple):
    """The InvoiceIssued outbox row of one invoice, written only if the invoice is kept."""

    invoice_id: str
    account_id: str  # the event's key (aggregateid)
    payload: str  # the event as `InvoiceIssued.model_dump_json()` writes it
    traceparent: str | None


_FIRST_OUTBOX_PARAM = len(_ARRAYS) + 2  # after the invoice arrays and the insert time
_OUTBOX_ARRAYS = ("event_id", "event_invoice_id", "aggregateid", "payload", "tracingspancontext")
_OUTBOX_PARAMS = {
    name: f"${n}::text[]" for n, name in enumerate(_OUTBOX_ARRAYS, start=_FIRST_OUTBOX_PARAM)
}
_SOURCE = f"${_FIRST_OUTBOX_PARAM + len(_OUTBOX_ARRAYS)}::text"
# Constant for every row of this statement: they are the same for each InvoiceIssued.
_EVENT_CONSTANTS = (
    f"'{InvoiceIssued.event_name}', '{InvoiceIssued.ce_type()}', '{InvoiceIssued.topic()}'"
)


def _statement() -> str:
    """`insert_new_invoices(skip_conflicts=True)`'s statement, plus the kept invoices' events.

    The events go in arrival order (`seq` follows it), as `Outbox.add_many` writes them.
    """
    invoice_columns = ", ".join(c for c in _INVOICE_ARRAYS if c != "next_aging_at")
    events = ", ".join(_OUTBOX_PARAMS.values())
    return f"""
        WITH u AS (
            SELECT * FROM {_unnest(_INVOICE_ARRAYS, "u")}
        ), new AS (
            INSERT INTO invoicing.invoices ({invoice_columns}, balance_minor, created_at)
            SELECT {invoice_columns}, total_minor, {_NOW} FROM u
            ON CONFLICT DO NOTHING
            RETURNING id, seq, external_id, account_id, currency, total_minor, issue_date
        ), lines AS (
            INSERT INTO invoicing.invoice_lines
                (invoice_id, line_no, description, quantity, unit_price, tax_rate,
                 net_minor, tax_minor)
            SELECT l.* FROM {_unnest(_LINE_ARRAYS, "l")}
            WHERE l.line_invoice_id IN (SELECT id FROM new)
        ), entries AS (
            INSERT INTO invoicing.ledger_entries
                (id, account_id, invoice_id, kind, amount_minor, currency, effective_date,
                 source_id, created_at)
            SELECT gen_random_uuid()::text, account_id, id, 'invoice', total_minor, currency,
                   issue_date, id, {_NOW}
            FROM new
        ), aging AS (
            INSERT INTO invoicing.invoice_aging
                (invoice_id, account_id, currency, due_date, next_aging_at)
            SELECT id, account_id, currency, due_date, next_aging_at FROM u
            WHERE id IN (SELECT id FROM new)
        ), events AS (
            INSERT INTO invoicing.outbox (id, aggregatetype, type, topic, aggregateid, source,
                occurred_at, payload, tracingspancontext)
            SELECT e.event_id, {_EVENT_CONSTANTS}, e.aggregateid, {_SOURCE}, {_NOW},
                   e.payload, e.tracingspancontext
            FROM unnest({events}) WITH ORDINALITY
                AS e({", ".join(_OUTBOX_ARRAYS)}, n)
            WHERE e.event_invoice_id IN (SELECT id FROM new)
            ORDER BY e.n
        )
        SELECT id, seq, EXISTS (
            SELECT FROM invoicing.held_allocations h
            WHERE h.status = 'held' AND h.invoice_ref IN (new.id, new.external_id)
        ) FROM new
    """  # noqa: S608 (only module constants are interpolated; values are bound)


_INSERT_WITH_EVENTS = _statement()


async def insert_issued_invoices(
    *,
    connection: asyncpg.Connection,
    invoices: Sequence[Invoice],
    events: Sequence[IssuedEvent],
    source: str,
    now: dt.datetime,
) -> dict[str, StoredIds]:
    """Store new invoices as `insert_new_invoices(skip_conflicts=True)` does, with their events.

    An invoice whose number or external id is taken is left out, and so is its event.
    Must run inside a transaction on `connection`.
    """
    if not invoices:
        return {}
    columns = _columns(invoices, {})
    rows = await connection.fetch(
        _INSERT_WITH_EVENTS,
        *(columns[name] for name in _ARRAYS),
        now,
        [str(uuid.uuid4()) for _ in events],
        [e.invoice_id for e in events],
        [e.account_id for e in events],
        [e.payload for e in events],
        [e.traceparent for e in events],
        source,
    )
    return {invoice_id: StoredIds(seq, held) for invoice_id, seq, held in rows}


_TAKEN_EXTERNAL_IDS = (
    "SELECT external_id FROM invoicing.invoices WHERE external_id = ANY($1::text[])"
)


async def taken_external_ids(
    *, connection: asyncpg.Connection, external_ids: Collection[str]
) -> set[str]:
    """Which of these external ids an invoice already has, in one query."""
    if not external_ids:
        return set()
    rows = await connection.fetch(_TAKEN_EXTERNAL_IDS, list(external_ids))
    return {row[0] for row in rows}
