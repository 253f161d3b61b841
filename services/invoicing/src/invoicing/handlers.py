"""Commands from the API: register an account, issue an invoice (state + events, one tx)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.outbox import Outbox
from invoicing import messages, repository
from invoicing.domain import (
    Account,
    DuplicateAccount,
    DuplicateInvoice,
    EarlyPaymentDiscount,
    Invoice,
    LineDraft,
    Terms,
    UnknownAccount,
    issue_invoice,
    price_line,
)
from invoicing.ledger.known import invoices_became_known
from invoicing.repository import Stored


def new_id() -> str:
    """A fresh Dunlin id."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class IssueInvoice:
    """Issue an invoice priced by Dunlin from its lines."""

    account_id: str
    invoice_number: str
    currency: str
    issue_date: dt.date
    lines: tuple[LineDraft, ...]
    due_date: dt.date | None = None
    terms: Terms | None = None
    external_id: str | None = None
    early_payment_discount: EarlyPaymentDiscount | None = None
    purchase_order: str | None = None


async def register_account(
    *, session: AsyncSession, outbox: Outbox, account: Account, now: dt.datetime
) -> Stored[Account]:
    """Store a new account and stage AccountRegistered in the same transaction."""
    if account.parent_account_id is not None and (
        await repository.get_account(session=session, account_id=account.parent_account_id) is None
    ):
        raise UnknownAccount(
            f"parent account {account.parent_account_id} does not exist",
            field="parent_account_id",
        )
    stored = await repository.add_account(session=session, account=account, now=now)
    if stored is None:
        raise DuplicateAccount(
            f"an account with external_id {account.external_id!r} already exists",
            field="external_id",
        )
    await outbox.add(session, messages.account_registered(stored.item), occurred_at=now)
    return stored


async def issue(
    *, session: AsyncSession, outbox: Outbox, command: IssueInvoice, now: dt.datetime
) -> Stored[Invoice]:
    """Price, validate and store an invoice, and stage InvoiceIssued in the same transaction."""
    stored_account = await repository.get_account(session=session, account_id=command.account_id)
    if stored_account is None:
        raise UnknownAccount(f"account {command.account_id} does not exist", field="account_id")
    account = stored_account.item
    invoice = issue_invoice(
        invoice_id=new_id(),
        account=account,
        invoice_number=command.invoice_number,
        currency=command.currency,
        issue_date=command.issue_date,
        due_date=command.due_date,
        terms=command.terms,
        lines=[price_line(line, currency=command.currency) for line in command.lines],
        early_payment_discount=command.early_payment_discount,
        purchase_order=command.purchase_order,
        external_id=command.external_id,
    )
    await _ensure_unique(session=session, invoice=invoice)
    await repository.add_invoices(session=session, invoices=[invoice], now=now)
    await outbox.add(session, messages.invoice_issued(invoice, account), occurred_at=now)
    await invoices_became_known(session=session, outbox=outbox, invoice_ids=[invoice.id], now=now)
    stored = await repository.get_invoice(session=session, invoice_id=invoice.id)
    assert stored is not None
    return stored


async def _ensure_unique(*, session: AsyncSession, invoice: Invoice) -> None:
    taken = await repository.taken_invoice_numbers(
        session=session, numbers=[(invoice.account_id, invoice.invoice_number)]
    )
    if taken:
        raise DuplicateInvoice(
            f"invoice number {invoice.invoice_number!r} already exists on this account",
            field="invoice_number",
        )
    if invoice.external_id is not None and await repository.fingerprints_by_external_id(
        session=session, external_ids=[invoice.external_id]
    ):
        raise DuplicateInvoice(
            f"an invoice with external_id {invoice.external_id!r} already exists",
            field="external_id",
        )
