"""Customer accounts and their payment terms."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from dunlin_events import Contact

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
