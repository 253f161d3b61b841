"""Commands from the API: register an account, issue an invoice (state + events, one tx)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_events import MoneyError, from_minor, to_minor
from dunlin_platform.ids import random_id
from dunlin_platform.outbox import Outbox
from invoicing import messages, repository
from invoicing.domain import (
    Account,
    DomainError,
    DuplicateAccount,
    DuplicateInvoice,
    EarlyPaymentDiscount,
    InvalidAccountChange,
    Invoice,
    Line,
    LineDraft,
    NotFound,
    Terms,
    UnknownAccount,
    change_account,
    issue_invoice,
    price_line,
)
from invoicing.ledger.known import invoices_became_known
from invoicing.repository import Stored, hierarchy


def new_id() -> str:
    """A fresh Dunlin id (a random UUID)."""
    return random_id()


@dataclass(frozen=True, slots=True)
class IssueInvoice:
    """Issue an invoice whose lines Dunlin has already priced."""

    account_id: str
    invoice_number: str
    currency: str
    issue_date: dt.date
    lines: tuple[Line, ...]
    due_date: dt.date | None = None
    terms: Terms | None = None
    external_id: str | None = None
    early_payment_discount: EarlyPaymentDiscount | None = None
    purchase_order: str | None = None
    # The requester's trace, so the InvoiceIssued it causes stays in it.
    traceparent: str | None = None


def priced_lines(drafts: Sequence[LineDraft], *, currency: str) -> tuple[Line, ...]:
    """Lines as Dunlin prices them in the invoice's currency."""
    return tuple(price_line(draft, currency=currency) for draft in drafts)


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


async def update_account(
    *,
    session: AsyncSession,
    outbox: Outbox,
    account_id: str,
    changes: dict[str, Any],
    now: dt.datetime,
) -> Stored[Account]:
    """Apply a partial update and stage AccountRegistered with the account's full new state.

    AccountRegistered is the account's current-state event: consumers replace what they
    know of the account with its content, whether it is the first or a later one.
    """
    stored = await hierarchy.lock_account(session=session, account_id=account_id)
    if stored is None:
        raise NotFound(f"account {account_id} does not exist")
    account = stored.item
    changes = _with_credit_limit_minor(account, changes)
    currency_changes = changes.get("currency", account.currency) != account.currency
    parent = changes.get("parent_account_id")
    chain: set[str] = set()
    if parent is not None and parent != account.parent_account_id:
        chain = await hierarchy.ancestors(session=session, account_id=parent)
        if parent not in chain:
            raise UnknownAccount(
                f"parent account {parent} does not exist", field="parent_account_id"
            )
    changed = change_account(
        account,
        changes,
        has_invoices=currency_changes
        and await hierarchy.has_invoices(session=session, account_id=account_id),
        ancestors_of_parent=chain,
    )
    await hierarchy.update_account(session=session, account=changed, now=now)
    await outbox.add(session, messages.account_registered(changed), occurred_at=now)
    return Stored(changed, stored.seq, stored.created_at)


def _with_credit_limit_minor(account: Account, changes: dict[str, Any]) -> dict[str, Any]:
    """A credit limit in the account's (possibly new) currency, as minor units."""
    changes = dict(changes)
    currency = changes.get("currency", account.currency)
    if "credit_limit" in changes:
        limit = changes.pop("credit_limit")
    elif currency != account.currency and account.credit_limit_minor is not None:
        limit = from_minor(account.credit_limit_minor, account.currency)
    else:
        return changes
    try:
        changes["credit_limit_minor"] = to_minor(limit, currency) if limit is not None else None
    except MoneyError as exc:
        raise InvalidAccountChange(str(exc), field="credit_limit") from exc
    return changes


async def issue_many(
    *,
    session: AsyncSession,
    outbox: Outbox,
    commands: Sequence[IssueInvoice],
    now: dt.datetime,
) -> list[Stored[Invoice] | DomainError]:
    """Issue invoices in one transaction; each gets its invoice or its own refusal.

    Commands are applied in order: of two with the same number on an account, the first
    wins. A handful of statements whatever the number of commands.
    """
    accounts = await repository.share_lock_accounts(
        session=session, account_ids={c.account_id for c in commands}
    )
    outcomes: list[Invoice | DomainError] = [
        _invoice(c, accounts.get(c.account_id)) for c in commands
    ]
    issued = [o for o in outcomes if isinstance(o, Invoice)]
    stored = await repository.insert_new_invoices(
        session=session, invoices=issued, now=now, skip_conflicts=True
    )
    taken = await repository.taken_external_ids(
        session=session,
        external_ids={i.external_id for i in issued if i.id not in stored and i.external_id},
    )
    kept = [
        (i, c)
        for i, c in zip(outcomes, commands, strict=True)
        if isinstance(i, Invoice) and i.id in stored
    ]
    await outbox.add_many(
        session,
        [messages.invoice_issued(i, accounts[i.account_id]) for i, _ in kept],
        occurred_at=now,
        traceparents=[c.traceparent for _, c in kept],
    )
    changed = await invoices_became_known(
        session=session,
        outbox=outbox,
        invoices=[i for i, _ in kept if stored[i.id].has_holds],
        now=now,
    )
    return [
        Stored(repository.as_stored(changed.get(o.id, o)), stored[o.id].seq, now)
        if isinstance(o, Invoice) and o.id in stored
        else _duplicate(o, taken)
        if isinstance(o, Invoice)
        else o
        for o in outcomes
    ]


def _invoice(command: IssueInvoice, account: Account | None) -> Invoice | DomainError:
    if account is None:
        return UnknownAccount(f"account {command.account_id} does not exist", field="account_id")
    try:
        return issue_invoice(
            invoice_id=new_id(),
            account=account,
            invoice_number=command.invoice_number,
            currency=command.currency,
            issue_date=command.issue_date,
            due_date=command.due_date,
            terms=command.terms,
            lines=command.lines,
            early_payment_discount=command.early_payment_discount,
            purchase_order=command.purchase_order,
            external_id=command.external_id,
        )
    except DomainError as refusal:
        return refusal


def _duplicate(invoice: Invoice, taken_external_ids: set[str]) -> DuplicateInvoice:
    if invoice.external_id in taken_external_ids:
        return DuplicateInvoice(
            f"an invoice with external_id {invoice.external_id!r} already exists",
            field="external_id",
        )
    return DuplicateInvoice(
        f"invoice number {invoice.invoice_number!r} already exists on this account",
        field="invoice_number",
    )
