"""POST /invoices of concurrent requests, coalesced into one transaction per batch.

A batch is written on the bare asyncpg connection under a pooled engine connection, in two
round trips and no explicit transaction (see `repository/issue_batch.py`): its accounts are
read (or taken from those earlier batches read: one round trip then), the invoices and
events built, and one statement locks the accounts, checks them and stores everything. An
account changed in between makes the batch read and build again. A
batch with an invoice that allocations are held for is written by `handlers.issue_many`,
which applies them in the same transaction through the ledger (an issue with an external
id a payment named first is the only way to get there).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Collection, Sequence

import asyncpg

from dunlin_platform.runtime import ServiceRuntime
from invoicing import handlers, messages
from invoicing.batching import WriteBatcher
from invoicing.domain import Account, DomainError, Invoice
from invoicing.repository import Stored, as_stored, issue_batch

log = logging.getLogger(__name__)

InvoiceIssuer = WriteBatcher[handlers.IssueInvoice, Stored[Invoice]]
Outcomes = list[Stored[Invoice] | DomainError]


# Batches built again after an account changed under them, before the general path takes over.
_ATTEMPTS = 3


class _NeedsLedger(Exception):
    """The batch must be written by `handlers.issue_many` (held allocations, busy accounts)."""


class AccountCache:
    """The accounts batches were built from, kept between batches to save their read.

    Safe to be stale: `insert_issued_invoices` re-checks, under a share lock, every account
    field an invoice or its event is built from (currency, terms, external id) and writes
    nothing when one changed (`Stale`); the issuer then forgets those accounts and reads
    them again. An account that does not exist is never kept, so it is looked up each time.
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._accounts: OrderedDict[str, Account] = OrderedDict()

    async def read(
        self, *, connection: asyncpg.Connection, account_ids: Collection[str]
    ) -> dict[str, Account]:
        """The accounts by id: kept ones as kept, the others read (and kept) now."""
        missing = [i for i in account_ids if i not in self._accounts]
        if missing:
            read = await issue_batch.read_accounts(connection=connection, account_ids=missing)
            self._accounts.update(read)
            while len(self._accounts) > self.max_entries:
                self._accounts.popitem(last=False)
        found: dict[str, Account] = {}
        for account_id in account_ids:
            account = self._accounts.get(account_id)
            if account is not None:
                self._accounts.move_to_end(account_id)
                found[account_id] = account
        return found

    def forget(self, account_ids: Collection[str]) -> None:
        """Read these accounts again next time (one of them changed)."""
        for account_id in account_ids:
            self._accounts.pop(account_id, None)


def invoice_issuer(runtime: ServiceRuntime, *, max_batch: int, writers: int) -> InvoiceIssuer:
    """The process's issuer: one transaction per batch of queued commands."""
    source = runtime.settings.source
    accounts = AccountCache()

    async def write(commands: Sequence[handlers.IssueInvoice]) -> Outcomes:
        now = runtime.clock.now()
        async with runtime.engine.connect() as pooled:
            driver = (await pooled.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            try:
                outcomes, published = await _issue_with_retries(
                    connection=driver, commands=commands, source=source, now=now, cache=accounts
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
    cache: AccountCache,
) -> tuple[Outcomes, bool]:
    account_ids = {c.account_id for c in commands}
    # One attempt more than reads allowed: the first may be built from kept accounts.
    for _ in range(_ATTEMPTS + 1):
        try:
            return await issue_on_connection(
                connection=connection, commands=commands, source=source, now=now, cache=cache
            )
        except issue_batch.Stale:
            cache.forget(account_ids)
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
    cache: AccountCache | None = None,
) -> tuple[Outcomes, bool]:
    """`handlers.issue_many` on `connection`, outside any transaction: one statement stores it.

    Its per-command rules are `issue_many`'s own helpers (`_invoice`, `_duplicate`), so the
    two paths cannot drift apart. Returns each command's outcome and whether any event was
    written; raises `issue_batch.Stale` or `issue_batch.AllocationsHeld` having written
    nothing. Accounts come from `cache` when given (the statement re-checks them).
    """
    account_ids = {c.account_id for c in commands}
    accounts = await (
        cache.read(connection=connection, account_ids=account_ids)
        if cache is not None
        else issue_batch.read_accounts(connection=connection, account_ids=account_ids)
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
