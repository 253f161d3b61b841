"""Customer accounts and their payment terms."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from dunlin_events import Contact
from invoicing.domain.errors import InvalidAccountChange

TermsKind = Literal["net", "end_of_month"]


@dataclass(frozen=True, slots=True)
class Terms:
    """When an invoice falls due, relative to its issue date."""

    kind: TermsKind
    days: int

    def due_date(self, issue_date: dt.date) -> dt.date:
        """Net N: issue + N days; end of month N: last day of the issue month + N days."""
        if self.kind == "net":
            return issue_date + dt.timedelta(days=self.days)
        last_day = calendar.monthrange(issue_date.year, issue_date.month)[1]
        return issue_date.replace(day=last_day) + dt.timedelta(days=self.days)


DEFAULT_TERMS = Terms(kind="net", days=30)


@dataclass(frozen=True, slots=True)
class Account:
    """A customer account: who owes, in which currency, on which terms, whom to contact."""

    id: str
    name: str
    currency: str
    terms: Terms
    external_id: str | None = None
    legal_name: str | None = None
    country: str | None = None
    time_zone: str = "UTC"
    locale: str = "en"
    credit_limit_minor: int | None = None
    tags: tuple[str, ...] = ()
    parent_account_id: str | None = None
    dunning_policy: str | None = None
    contacts: tuple[Contact, ...] = field(default=())


def placeholder_account(
    *, account_id: str, external_id: str, currency: str, terms: Terms | None
) -> Account:
    """A minimal account for an ERP invoice whose account master data has not arrived yet."""
    # Refusing the invoice would lose it; the ERP's AccountRegistered fills in the rest later.
    return Account(
        id=account_id,
        external_id=external_id,
        name=f"ERP account {external_id}",
        currency=currency,
        terms=terms or DEFAULT_TERMS,
        tags=("incomplete_master_data",),
    )


# What a PATCH may change; the ERP's id and the country stay as registered.
CHANGEABLE_FIELDS = frozenset(
    {
        "name",
        "legal_name",
        "currency",
        "terms",
        "credit_limit_minor",
        "tags",
        "contacts",
        "time_zone",
        "locale",
        "parent_account_id",
        "dunning_policy",
    }
)


def change_account(
    account: Account,
    changes: dict[str, Any],
    *,
    has_invoices: bool,
    ancestors_of_parent: Collection[str] = (),
) -> Account:
    """The account after a partial update, or a refusal naming the offending field.

    `ancestors_of_parent` is the chain above the new parent (the parent included), so a
    parent that is the account itself or one of its descendants is refused as a cycle.
    """
    unknown = changes.keys() - CHANGEABLE_FIELDS
    if unknown:
        raise ValueError(f"not changeable: {sorted(unknown)}")
    currency = changes.get("currency", account.currency)
    if currency != account.currency and has_invoices:
        raise InvalidAccountChange(
            f"account {account.id} has invoices in {account.currency}; its currency cannot"
            f" change to {currency}",
            field="currency",
        )
    parent = changes.get("parent_account_id", account.parent_account_id)
    if parent is not None and (parent == account.id or account.id in ancestors_of_parent):
        raise InvalidAccountChange(
            f"account {parent} is {account.id} itself or one of its descendants;"
            " the hierarchy would become a cycle",
            field="parent_account_id",
        )
    return dataclasses.replace(account, **changes)
