"""POST /invoices of concurrent requests, coalesced into one transaction per batch.

A batch is written on the bare asyncpg connection under a pooled engine connection, in two
round trips and no explicit transaction (see `repository/issue_batch.py`): its accounts are
read, the invoices and events built, and one statement locks the accounts, checks them and
stores everything. An account changed in between makes the batch read and build again. A
batch with an invoice that allocations are held for is written by `handlers.issue_many`,
which applies them in the same transaction through the ledger (an issue with an external
id a payment named first is the only way to get there).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import asyncpg

from dunlin_platform.runtime import ServiceRuntime
from invoicing import handlers, messages
from invoicing.batching import WriteBatcher
from invoicing.domain import DomainError, Invoice
from invoicing.repository import Stored, as_stored, issue_batch

log = logging.getLogger(__name__)

InvoiceIssuer = WriteBatcher[handlers.IssueInvoice, Stored[Invoice]]
Outcomes = list[Stored[Invoice] | DomainError]


# Batches built again after an account changed under them, before the general path takes over.
_ATTEMPTS = 3


class _NeedsLedger(Exception):
    """The batch must be written by `handlers.issue_many` (held allocations, busy accounts)."""


def invoice_issuer(runtime: ServiceRuntime, *, max_batch: int, writers: int) -> InvoiceIssuer:
    """The process's issuer: one transaction per batch of queued commands."""
    source = runtime.settings.source

    async def write(commands: Sequence[handlers.IssueInvoice]) -> Outcomes:
        now = runtime.clock.now()
        async with runtime.engine.connect() as pooled:
            driver = (await pooled.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            try:
                outcomes, published = await _issue_with_retries(
                    connection=driver, commands=commands, source=source, now=now
                )
            except _NeedsLedger:
                pass
            except BaseException:
                if driver.is_closed():  # SQLAlchemy's pool must not hand it out again
                    await pooled.invalidate()
                raise
            else:
                if published:
                    runtime.relay.wake()
                if driver.is_closed():
                    await pooled.invalidate()
                return outcomes
        async with runtime.sessionmaker() as session, session.begin():
            return await handlers.issue_many(
                session=session, outbox=runtime.outbox, commands=commands, now=now
            )

    return WriteBatcher(write, max_batch=max_batch, writers=writers)


async def _issue_with_retries(
    *,
    connection: asyncpg.Connection,
    commands: Sequence[handlers.IssueInvoice],
    source: str,
    now: dt.datetime,
) -> tuple[Outcomes, bool]:
    for _ in range(_ATTEMPTS):
        try:
            return await issue_on_connection(
                connection=connection, commands=commands, source=source, now=now
            )
        except issue_batch.Stale:
            continue
        except issue_batch.AllocationsHeld:
            raise _NeedsLedger from None
    raise _NeedsLedger


async def issue_on_connection(
    *,
    connection: asyncpg.Connection,
    commands: Sequence[handlers.IssueInvoice],
    source: str,
    now: dt.datetime,
) -> tuple[Outcomes, bool]:
    """`handlers.issue_many` on `connection`, outside any transaction: one statement stores it.

    Its per-command rules are `issue_many`'s own helpers (`_invoice`, `_duplicate`), so the
    two paths cannot drift apart. Returns each command's outcome and whether any event was
    written; raises `issue_batch.Stale` or `issue_batch.AllocationsHeld` having written
    nothing.
    """
    accounts = await issue_batch.read_accounts(
        connection=connection, account_ids={c.account_id for c in commands}
    )
    outcomes = [handlers._invoice(c, accounts.get(c.account_id)) for c in commands]
    issued = [(o, c) for o, c in zip(outcomes, commands, strict=True) if isinstance(o, Invoice)]
    events = [
        issue_batch.IssuedEvent(
            invoice_id=i.id,
            account_id=i.account_id,
            payload=messages.invoice_issued(i, accounts[i.account_id]).model_dump_json(),
            traceparent=c.traceparent,
        )
        for i, c in issued
    ]
    stored = await issue_batch.insert_issued_invoices(
        connection=connection,
        accounts=accounts.values(),
        invoices=[i for i, _ in issued],
        events=events,
        source=source,
        now=now,
    )
    taken = await _taken_after_commit(
        connection, {i.external_id for i, _ in issued if i.id not in stored and i.external_id}
    )
    return [
        Stored(as_stored(o), stored[o.id], now)
        if isinstance(o, Invoice) and o.id in stored
        else handlers._duplicate(o, taken)
        if isinstance(o, Invoice)
        else o
        for o in outcomes
    ], bool(stored)


async def _taken_after_commit(connection: asyncpg.Connection, external_ids: set[str]) -> set[str]:
    """Which external ids made invoices of the committed batch duplicates.

    Invoices are never deleted, so what the statement found taken is taken now. Nothing may
    fail the batch after its statement committed (its commands would be written again one by
    one, and those it stored answered 409): without an answer here, those refusals name the
    invoice number instead.
    """
    try:
        return await issue_batch.taken_external_ids(
            connection=connection, external_ids=external_ids
        )
    except Exception as exc:
        log.warning("taken external ids unknown after an issue batch committed: %r", exc)
        return set()
