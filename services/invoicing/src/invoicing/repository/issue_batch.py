"""POST /invoices batches stored on a bare asyncpg connection, outbox rows included.

A batch costs two round trips and no explicit transaction: the batch's accounts are read
(`read_accounts`), the invoices and their events are built from them, and one statement
(`insert_issued_invoices`, its own transaction) share-locks the accounts, checks that what
the invoices were built from is still what they hold and that no allocation is held for
any of the invoices, and only then stores invoices + lines + opening entries + aging marks +
the InvoiceIssued outbox rows of the invoices it kept. The lock is held until that
statement commits, as the general path holds it until its COMMIT. Through an `AsyncSession`
(BEGIN, lock, insert, outbox insert, COMMIT) the same work cost about twice the client CPU.
The rows are the ones the general path writes (`share_lock_accounts`, `insert_new_invoices`,
`Outbox.add_many`): integration tests hold the two to the same outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import asyncpg

from dunlin_events import Contact, InvoiceIssued
from dunlin_platform.ids import random_id
from invoicing.domain import Account, Invoice, Terms
from invoicing.repository.new_invoices import (
    _ARRAYS,
    _INVOICE_ARRAYS,
    _NOW,
    _PARAM,
    _columns,
    _unnest,
    invoice_writes,
)

_ACCOUNT_COLUMNS = (
    "id, external_id, name, legal_name, currency, country, time_zone, locale, terms_kind,"
    " terms_days, credit_limit_minor, tags, parent_account_id, dunning_policy, contacts"
)
_READ = f"SELECT {_ACCOUNT_COLUMNS} FROM invoicing.accounts WHERE id = ANY($1::text[])"  # noqa: S608


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


async def read_accounts(
    *, connection: asyncpg.Connection, account_ids: Collection[str]
) -> dict[str, Account]:
    """Accounts by Dunlin id, unlocked: `insert_issued_invoices` locks and re-checks them."""
    if not account_ids:
        return {}
    rows = await connection.fetch(_READ, list(account_ids))
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
_SOURCE_PARAM = _FIRST_OUTBOX_PARAM + len(_OUTBOX_ARRAYS)
_SOURCE = f"${_SOURCE_PARAM}::text"
# What the invoices and their events were built from, per account read (`issue_invoice`
# uses the currency and terms, `invoice_issued` the terms and the external id).
_SEEN_ARRAYS = {
    "id": "text",
    "currency": "text",
    "terms_kind": "text",
    "terms_days": "int4",
    "external_id": "text",
}
_SEEN_PARAMS = {
    name: f"${n}::{kind}[]"
    for n, (name, kind) in enumerate(_SEEN_ARRAYS.items(), start=_SOURCE_PARAM + 1)
}
# Constant for every row of this statement: they are the same for each InvoiceIssued.
_EVENT_CONSTANTS = (
    f"'{InvoiceIssued.event_name}', '{InvoiceIssued.ce_type()}', '{InvoiceIssued.topic()}'"
)


def _statement() -> str:
    """`insert_new_invoices(skip_conflicts=True)`'s statement, plus the kept invoices' events,
    written only if the accounts (share-locked, in id order) still hold what was read and
    no allocation is held for any invoice of the batch.

    The events go in arrival order (`seq` follows it), as `Outbox.add_many` writes them.
    """
    events = ", ".join(_OUTBOX_PARAMS.values())
    seen = ", ".join(_SEEN_PARAMS.values())
    unchanged = " AND ".join(f"a.{c} IS NOT DISTINCT FROM s.{c}" for c in _SEEN_ARRAYS)
    return f"""
        WITH seen AS (
            SELECT * FROM unnest({seen}) AS s({", ".join(_SEEN_ARRAYS)})
        ), locked AS (
            SELECT {", ".join(_SEEN_ARRAYS)} FROM invoicing.accounts
            WHERE id = ANY({_SEEN_PARAMS["id"]}) ORDER BY id FOR SHARE
        ), fresh AS (
            SELECT count(*) = (SELECT count(*) FROM seen) AS ok
            FROM seen s JOIN locked a ON {unchanged}
        ), held AS (
            SELECT EXISTS (
                SELECT FROM invoicing.held_allocations h
                WHERE h.status = 'held' AND (h.invoice_ref = ANY({_PARAM["id"]})
                    OR h.invoice_ref = ANY({_PARAM["external_id"]}))
            ) AS waiting
        ), u AS (
            SELECT * FROM {_unnest(_INVOICE_ARRAYS, "u")}
            WHERE (SELECT ok FROM fresh) AND NOT (SELECT waiting FROM held)
        ), {invoice_writes(skip_conflicts=True)}, events AS (
            INSERT INTO invoicing.outbox (id, aggregatetype, type, topic, aggregateid, source,
                occurred_at, payload, tracingspancontext)
            SELECT e.event_id, {_EVENT_CONSTANTS}, e.aggregateid, {_SOURCE}, {_NOW},
                   e.payload, e.tracingspancontext
            FROM unnest({events}) WITH ORDINALITY
                AS e({", ".join(_OUTBOX_ARRAYS)}, n)
            WHERE e.event_invoice_id IN (SELECT id FROM new)
            ORDER BY e.n
        )
        SELECT f.ok, h.waiting, n.id, n.seq
        FROM fresh f CROSS JOIN held h LEFT JOIN new n ON true
    """  # noqa: S608 (only module constants are interpolated; values are bound)


_INSERT_WITH_EVENTS = _statement()


class Stale(Exception):
    """An account changed since it was read: read it again and rebuild the batch."""


class AllocationsHeld(Exception):
    """Allocations wait for an invoice of the batch: the ledger path must issue it."""


async def insert_issued_invoices(
    *,
    connection: asyncpg.Connection,
    accounts: Collection[Account],
    invoices: Sequence[Invoice],
    events: Sequence[IssuedEvent],
    source: str,
    now: dt.datetime,
) -> dict[str, int]:
    """Store new invoices as `insert_new_invoices(skip_conflicts=True)` does, with their events,
    in one statement that is its own transaction; the stored ones' `seq` by id.

    `accounts` are those the invoices and events were built from. Raises `Stale` when one
    of them changed meanwhile and `AllocationsHeld` when allocations wait for one of the
    invoices (by id or external id); nothing is written then. An invoice whose number or
    external id is taken is left out, and so is its event.
    """
    if not invoices:
        return {}
    columns = _columns(invoices, {})
    rows = await connection.fetch(
        _INSERT_WITH_EVENTS,
        *(columns[name] for name in _ARRAYS),
        now,
        [random_id() for _ in events],
        [e.invoice_id for e in events],
        [e.account_id for e in events],
        [e.payload for e in events],
        [e.traceparent for e in events],
        source,
        [a.id for a in accounts],
        [a.currency for a in accounts],
        [a.terms.kind for a in accounts],
        [a.terms.days for a in accounts],
        [a.external_id for a in accounts],
    )
    fresh, held = rows[0][0], rows[0][1]
    if not fresh:
        raise Stale
    if held:
        raise AllocationsHeld
    return {invoice_id: seq for _, _, invoice_id, seq in rows if invoice_id is not None}


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
