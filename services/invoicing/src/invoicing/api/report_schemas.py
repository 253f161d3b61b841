"""HTTP shapes of the reports: money as decimal strings, one block per currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from invoicing.domain.aging import Bucket


class _Public(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class BucketPublic(_Public):
    """One aging bucket of one currency."""

    bucket: Bucket = Field(description="current, 1-30, 31-60, 61-90 or 90+ days past due")
    count: int = Field(description="Open invoices in the bucket")
    balance: Decimal = Field(description="Their open balance, decimal string")


class AgingCurrencyPublic(_Public):
    """The aging of one currency's receivables."""

    currency: str
    buckets: list[BucketPublic]
    count: int = Field(description="Open invoices in all buckets")
    balance: Decimal = Field(description="Open balance in all buckets")


class AgingPublic(_Public):
    """Open receivables by days past due, per currency (never summed across currencies)."""

    as_of: dt.date
    balances: Literal["now", "ledger"] = Field(
        description="`now`: today's open balances; `ledger`: rebuilt as of a past as_of"
    )
    currencies: list[AgingCurrencyPublic]


class KpiCurrencyPublic(_Public):
    """One currency's ledger figures for the period and the KPIs computed from them."""

    currency: str
    beginning_ar: Decimal = Field(description="AR at the end of the day before `from`")
    ending_ar: Decimal = Field(description="AR at the end of `to`")
    ending_current_ar: Decimal = Field(description="Part of ending AR not yet past due")
    credit_sales: Decimal = Field(description="Net credit sales booked in the period")
    written_off: Decimal = Field(description="Bad debt written off in the period")
    dso_days: Decimal = Field(description="Days sales outstanding, countback method")
    dso_complete: bool = Field(
        description="False when ending AR exceeds the sales of the months looked back"
    )
    cei_percent: Decimal | None = Field(description="Collection effectiveness index, %")
    ar_turnover: Decimal | None = Field(description="Credit sales / average AR")
    write_off_rate_percent: Decimal | None = Field(description="Written off / credit sales, %")


class KpisPublic(_Public):
    """Collections KPIs per currency; null where a ratio is undefined (zero denominator)."""

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    currencies: list[KpiCurrencyPublic]


class StatementCurrencyPublic(_Public):
    """One currency of a statement: opening, the period's debits and credits, closing."""

    currency: str
    opening_balance: Decimal
    debits: Decimal
    credits: Decimal
    closing_balance: Decimal


class StatementLinePublic(_Public):
    """One ledger entry with the running balance of its currency after it."""

    date: dt.date
    currency: str
    kind: str = Field(description="invoice, payment, reversal, credit_note, write_off, ...")
    reference: str = Field(description="The invoice number, else the source document id")
    invoice_id: str | None
    source_id: str
    debit: Decimal | None
    credit: Decimal | None
    balance: Decimal


class StatementPublic(_Public):
    """An account statement; pass next_cursor back for the following entries."""

    account_id: str
    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    currencies: list[StatementCurrencyPublic]
    entries: list[StatementLinePublic]
    next_cursor: str | None = None
