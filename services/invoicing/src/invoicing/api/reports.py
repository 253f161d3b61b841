"""Reports: aging, collections KPIs and account statements (JSON or CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from dunlin_events import CURRENCY_EXPONENTS, from_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.pagination import PageParamsDep, encode_cursor
from dunlin_platform.http.problems import (
    FieldError,
    NotFoundError,
    UnprocessableError,
    problem_responses,
)
from invoicing import repository
from invoicing.api.deps import RuntimeDep, dated_cursor
from invoicing.api.report_schemas import (
    AgingCurrencyPublic,
    AgingPublic,
    BucketPublic,
    KpiCurrencyPublic,
    KpisPublic,
    StatementCurrencyPublic,
    StatementLinePublic,
    StatementPublic,
)
from invoicing.reporting import statement
from invoicing.reporting.kpis import month_windows
from invoicing.reporting.queries import Scope
from invoicing.reporting.reports import aging_report, kpi_report

router = APIRouter(tags=["reports"])
READ = [require_scopes("reports:read")]

CurrencyQuery = Annotated[str | None, Query(description="ISO 4217 code; all when absent")]
TagQuery = Annotated[str | None, Query(max_length=50, description="Accounts with this tag")]
AccountQuery = Annotated[str | None, Query(max_length=100, description="One account")]
FromQuery = Annotated[dt.date | None, Query(alias="from", description="First day (inclusive)")]
ToQuery = Annotated[dt.date | None, Query(description="Last day (inclusive); today if absent")]


def _query_problem(field: str, message: str, type: str) -> UnprocessableError:
    error = FieldError(field=field, location="query", message=message, type=type)
    return UnprocessableError(message, errors=[error])


def _scope(currency: str | None, tag: str | None, account_id: str | None) -> Scope:
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        raise _query_problem("currency", f"unknown currency {currency!r}", "unknown_currency")
    return Scope(currency=currency, tag=tag, account_id=account_id)


def _period(start: dt.date | None, end: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The requested period; by default the month-long window ending today (or on `to`)."""
    end = end or today
    start = start or month_windows(end, 1)[0][0]
    if start > end:
        raise _query_problem("from", "from must not be after to", "invalid_period")
    return start, end


@router.get("/reports/aging", dependencies=READ, responses=problem_responses(401, 403, 422))
async def get_aging(
    runtime: RuntimeDep,
    currency: CurrencyQuery = None,
    tag: TagQuery = None,
    account_id: AccountQuery = None,
    as_of: Annotated[dt.date | None, Query(description="Aging date; today if absent")] = None,
) -> AgingPublic:
    """Open receivables in buckets current, 1-30, 31-60, 61-90, 90+ days past due."""
    scope = _scope(currency, tag, account_id)
    today = runtime.clock.now().date()
    async with runtime.sessionmaker() as session:
        report = await aging_report(session=session, as_of=as_of or today, today=today, scope=scope)
    return AgingPublic(
        as_of=report.as_of,
        balances="now" if report.source == "now" else "ledger",
        currencies=[
            AgingCurrencyPublic(
                currency=cur,
                buckets=[
                    BucketPublic(
                        bucket=name, count=t.count, balance=from_minor(t.balance_minor, cur)
                    )
                    for name, t in buckets.items()
                ],
                count=sum(t.count for t in buckets.values()),
                balance=from_minor(sum(t.balance_minor for t in buckets.values()), cur),
            )
            for cur, buckets in report.currencies.items()
        ],
    )


@router.get("/reports/kpis", dependencies=READ, responses=problem_responses(401, 403, 422))
async def get_kpis(
    runtime: RuntimeDep,
    start: FromQuery = None,
    to: ToQuery = None,
    currency: CurrencyQuery = None,
    tag: TagQuery = None,
    account_id: AccountQuery = None,
) -> KpisPublic:
    """DSO (countback), CEI, AR turnover and bad-debt write-off rate per currency."""
    scope = _scope(currency, tag, account_id)
    start, end = _period(start, to, runtime.clock.now().date())
    async with runtime.sessionmaker() as session:
        report = await kpi_report(session=session, start=start, end=end, scope=scope)
    return KpisPublic(
        start=start,
        end=end,
        currencies=[
            KpiCurrencyPublic(
                currency=r.currency,
                beginning_ar=from_minor(r.figures.beginning_ar, r.currency),
                ending_ar=from_minor(r.figures.ending_ar, r.currency),
                ending_current_ar=from_minor(r.figures.ending_current_ar, r.currency),
                credit_sales=from_minor(r.figures.credit_sales, r.currency),
                written_off=from_minor(r.figures.written_off, r.currency),
                dso_days=r.kpis.dso_days,
                dso_complete=r.kpis.dso_complete,
                cei_percent=r.kpis.cei_percent,
                ar_turnover=r.kpis.ar_turnover,
                write_off_rate_percent=r.kpis.write_off_rate_percent,
            )
            for r in report
        ],
    )


def _line(line: statement.Line) -> StatementLinePublic:
    entry, cur = line.entry, line.entry.currency
    return StatementLinePublic(
        date=entry.date,
        currency=cur,
        kind=entry.kind,
        reference=entry.invoice_number or entry.source_id,
        invoice_id=entry.invoice_id,
        source_id=entry.source_id,
        debit=from_minor(line.debit_minor, cur) if line.debit_minor else None,
        credit=from_minor(line.credit_minor, cur) if line.credit_minor else None,
        balance=from_minor(line.balance_minor, cur),
    )


@router.get(
    "/accounts/{account_id}/statement",
    dependencies=READ,
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
    },
    response_model=StatementPublic,
)
async def get_statement(
    account_id: Annotated[str, Path(min_length=1, max_length=100)],
    runtime: RuntimeDep,
    page: PageParamsDep,
    start: FromQuery = None,
    to: ToQuery = None,
    format: Literal["json", "csv"] = "json",
) -> StatementPublic | Response:
    """Opening balance, every ledger entry of the period with running balance, closing balance."""
    start, end = _period(start, to, runtime.clock.now().date())
    after = dated_cursor(page.after) if format == "json" else None
    async with runtime.sessionmaker() as session:
        if await repository.get_account(session=session, account_id=account_id) is None:
            raise NotFoundError(f"account {account_id} does not exist")
        totals = await statement.statement_totals(
            session=session, account_id=account_id, start=start, end=end
        )
        entries = await statement.statement_entries(
            session=session,
            account_id=account_id,
            start=start,
            end=end,
            after=after,
            limit=page.limit + 1 if format == "json" else None,
        )
        balances = {c: t.opening_minor for c, t in totals.items()}
        if after is not None:
            balances = await statement.balances_before(
                session=session, account_id=account_id, after=after
            )
    if format == "csv":
        return _csv(account_id, start, end, totals, statement.running_lines(entries, balances))
    more = len(entries) > page.limit
    entries = entries[: page.limit]
    last = entries[-1] if entries else None
    return StatementPublic(
        account_id=account_id,
        start=start,
        end=end,
        currencies=[
            StatementCurrencyPublic(
                currency=cur,
                opening_balance=from_minor(t.opening_minor, cur),
                debits=from_minor(t.debits_minor, cur),
                credits=from_minor(t.credits_minor, cur),
                closing_balance=from_minor(t.closing_minor, cur),
            )
            for cur, t in sorted(totals.items())
        ],
        entries=[_line(line) for line in statement.running_lines(entries, balances)],
        next_cursor=encode_cursor([last.date.isoformat(), last.seq]) if more and last else None,
    )


CSV_HEADER = ["currency", "date", "kind", "reference", "invoice_id", "debit", "credit", "balance"]


def _csv(
    account_id: str,
    start: dt.date,
    end: dt.date,
    totals: dict[str, statement.Totals],
    lines: list[statement.Line],
) -> Response:
    """The whole statement as CSV: per currency an opening row, the entries, a closing row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for cur, t in sorted(totals.items()):
        opening = from_minor(t.opening_minor, cur)
        writer.writerow([cur, start, "opening_balance", "", "", "", "", opening])
        for line in (x for x in lines if x.entry.currency == cur):
            row = _line(line)
            writer.writerow(
                [cur, row.date, row.kind, row.reference, row.invoice_id or "",
                 row.debit or "", row.credit or "", row.balance]
            )  # fmt: skip
        closing = from_minor(t.closing_minor, cur)
        writer.writerow([cur, end, "closing_balance", "", "", "", "", closing])
    filename = f"statement-{account_id}-{start}-{end}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
