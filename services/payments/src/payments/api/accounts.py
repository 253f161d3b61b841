"""Accounts as payments sees them: the allocation rule setting and the ledger view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from dunlin_events import from_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.problems import NotFoundError, problem_responses
from payments.api.deps import RuntimeDep, SettingsDep
from payments.db import AccountRow
from payments.handlers.ledger import rule_of
from payments.repository import ledger as ledger_repo
from payments.schemas import AllocationRuleBody, LedgerPublic, OpenInvoicePublic

router = APIRouter(prefix="/accounts", tags=["accounts"])
AccountId = Annotated[str, Path(min_length=1, max_length=100)]


@router.put(
    "/{account_id}/allocation-rule",
    dependencies=[require_scopes("payments:write")],
    responses=problem_responses(401, 403, 404, 422),
)
async def set_allocation_rule(
    account_id: AccountId, body: AllocationRuleBody, runtime: RuntimeDep
) -> AllocationRuleBody:
    """Set the rule that allocates this account's payments beyond their remittance."""
    async with runtime.sessionmaker() as session, session.begin():
        accounts = await ledger_repo.lock_accounts(session=session, account_ids=[account_id])
        if account_id not in accounts:
            raise NotFoundError(f"account {account_id} is not known to payments")
        accounts[account_id].allocation_rule = body.rule
    return body


@router.get(
    "/{account_id}/ledger",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_ledger(
    account_id: AccountId, runtime: RuntimeDep, settings: SettingsDep
) -> LedgerPublic:
    """The account's open invoices (oldest due first) and its unapplied credit."""
    async with runtime.sessionmaker() as session:
        account = await session.get(AccountRow, account_id)
        if account is None:
            raise NotFoundError(f"account {account_id} is not known to payments")
        ledger = await ledger_repo.load_ledger(
            session=session,
            account_id=account_id,
            rule=rule_of(account, settings.default_allocation_rule),
        )
    currency = account.currency
    earmarked: dict[str, int] = {}
    for credit in ledger.credits.values():
        for reference, amount in credit.earmarks.items():
            earmarked[reference] = earmarked.get(reference, 0) + amount
    invoices = sorted(ledger.invoices.values(), key=lambda i: (i.due_date, i.seq))
    return LedgerPublic(
        account_id=account.id,
        external_id=account.external_id,
        currency=currency,
        allocation_rule=ledger.rule,
        open_invoices=[
            OpenInvoicePublic(
                id=i.id,
                invoice_number=i.number,
                external_id=i.external_id,
                due_date=i.due_date,
                total=from_minor(i.total_minor, currency),
                balance=from_minor(i.balance_minor, currency),
            )
            for i in invoices
        ],
        unapplied_credit=from_minor(
            sum(c.general_minor for c in ledger.credits.values()), currency
        ),
        earmarked_credit={ref: from_minor(v, currency) for ref, v in earmarked.items()},
    )
