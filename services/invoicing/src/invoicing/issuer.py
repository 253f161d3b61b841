"""POST /invoices of concurrent requests, coalesced into one transaction per batch.

A batch is written on the bare asyncpg connection under a pooled engine connection: BEGIN,
the accounts share-locked in one query, one statement storing the invoices with their lines,
opening entries, aging marks and InvoiceIssued outbox rows, COMMIT (see
`repository/issue_batch.py`). A batch with an invoice that allocations are held for is
rolled back and written again by `handlers.issue_many`, which applies them in the same
transaction through the ledger (an issue with an external id a payment named first is the
only way to get there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from dunlin_platform.runtime import ServiceRuntime
from invoicing import handlers, messages
from invoicing.batching import WriteBatcher
from invoicing.domain import DomainError, Invoice
from invoicing.repository import Stored, as_stored, issue_batch

InvoiceIssuer = WriteBatcher[handlers.IssueInvoice, Stored[Invoice]]
Outcomes = list[Stored[Invoice] | DomainError]


class _HeldAllocations(Exception):
    """Allocations wait for an invoice of the batch: the general path must apply them."""


def invoice_issuer(runtime: ServiceRuntime, *, max_batch: int, writers: int) -> InvoiceIssuer:
    """The process's issuer: one transaction per batch of queued commands."""
    source = runtime.settings.source

    async def write(commands: Sequence[handlers.IssueInvoice]) -> Outcomes:
        now = runtime.clock.now()
        async with runtime.engine.connect() as pooled:
            driver = (await pooled.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            try:
                async with driver.transaction():
                    outcomes, published = await issue_on_connection(
                        connection=driver, commands=commands, source=source, now=now
                    )
            except _HeldAllocations:
                pass
            except BaseException:
                if driver.is_closed():  # SQLAlchemy's pool must not hand it out again
                    await pooled.invalidate()
                raise
            else:
                if published:
                    runtime.relay.wake()
                return outcomes
        async with runtime.sessionmaker() as session, session.begin():
            return await handlers.issue_many(
                session=session, outbox=runtime.outbox, commands=commands, now=now
            )

    return WriteBatcher(write, max_batch=max_batch, writers=writers)


async def issue_on_connection(
    *,
    connection: asyncpg.Connection,
    commands: Sequence[handlers.IssueInvoice],
    source: str,
    now: dt.datetime,
) -> tuple[Outcomes, bool]:
    """`handlers.issue_many` inside the caller's transaction on `connection`.

    Its per-command rules are `issue_many`'s own helpers (`_invoice`, `_duplicate`), so the
    two paths cannot drift apart. Returns each command's outcome and whether any event was
    written; raises `_HeldAllocations` (the caller rolls back) when the batch needs the ledger.
    """
    accounts = await issue_batch.share_lock_accounts(
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
        invoices=[i for i, _ in issued],
        events=events,
        source=source,
        now=now,
    )
    if any(ids.has_holds for ids in stored.values()):
        raise _HeldAllocations
    taken = await issue_batch.taken_external_ids(
        connection=connection,
        external_ids={i.external_id for i, _ in issued if i.id not in stored and i.external_id},
    )
    return [
        Stored(as_stored(o), stored[o.id].seq, now)
        if isinstance(o, Invoice) and o.id in stored
        else handlers._duplicate(o, taken)
        if isinstance(o, Invoice)
        else o
        for o in outcomes
    ], bool(stored)
