"""POST /invoices of concurrent requests, coalesced into one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence

from dunlin_platform.runtime import ServiceRuntime
from invoicing import handlers
from invoicing.batching import WriteBatcher
from invoicing.domain import DomainError, Invoice
from invoicing.repository import Stored

InvoiceIssuer = WriteBatcher[handlers.IssueInvoice, Stored[Invoice]]


def invoice_issuer(runtime: ServiceRuntime, *, max_batch: int, writers: int) -> InvoiceIssuer:
    """The process's issuer: one transaction per batch of queued commands."""

    async def write(
        commands: Sequence[handlers.IssueInvoice],
    ) -> list[Stored[Invoice] | DomainError]:
        async with runtime.sessionmaker() as session, session.begin():
            return await handlers.issue_many(
                session=session, outbox=runtime.outbox, commands=commands, now=runtime.clock.now()
            )

    return WriteBatcher(write, max_batch=max_batch, writers=writers)
