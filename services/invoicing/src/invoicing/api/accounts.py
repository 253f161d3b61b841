"""Accounts: register, read, list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from dunlin_events import Contact, MoneyError, from_minor, to_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page
from dunlin_platform.http.problems import NotFoundError, problem_responses
from invoicing import handlers, repository
from invoicing.api.deps import RuntimeDep, field_problem, seq_cursor
from invoicing.domain import Account, Terms
from invoicing.repository import Stored, hierarchy
from invoicing.schemas import (
    AccountBalancePublic,
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    ContactBody,
    CurrencyBalancePublic,
    InvoiceCounts,
    PaymentTermsBody,
)

router = APIRouter(prefix="/accounts", tags=["accounts"])
AccountId = Annotated[str, Path(min_length=1, max_length=100)]


def _contacts(bodies: list[ContactBody]) -> tuple[Contact, ...]:
    return tuple(
        Contact.model_validate({**c.model_dump(), "contact_id": c.contact_id or str(uuid.uuid4())})
        for c in bodies
    )


def changes_from(body: AccountUpdate) -> dict[str, Any]:
    """The account fields a PATCH changes (credit_limit stays a decimal until the currency is
    known)."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "payment_terms":
            changes["terms"] = Terms(kind=value.kind, days=value.days)
        elif name == "tags":
            changes["tags"] = tuple(dict.fromkeys(value))
        elif name == "contacts":
            changes["contacts"] = _contacts(value)
        else:
            changes[name] = value
    return changes


def account_from(body: AccountCreate) -> Account:
    """The domain account a registration asks for."""
    credit_limit_minor = None
    if body.credit_limit is not None:
        try:
            credit_limit_minor = to_minor(body.credit_limit, body.currency)
        except MoneyError as exc:
            raise field_problem(str(exc), field="credit_limit", type="amount_scale") from exc
    return Account(
        id=handlers.new_id(),
        external_id=body.external_id,
        name=body.name,
        legal_name=body.legal_name,
        currency=body.currency,
        country=body.country,
        time_zone=body.time_zone,
        locale=body.locale,
        terms=Terms(kind=body.payment_terms.kind, days=body.payment_terms.days),
        credit_limit_minor=credit_limit_minor,
        tags=tuple(dict.fromkeys(body.tags)),
        parent_account_id=body.parent_account_id,
        dunning_policy=body.dunning_policy,
        contacts=_contacts(body.contacts),
    )


def account_public(stored: Stored[Account]) -> AccountPublic:
    """The API view of a stored account."""
    account = stored.item
    return AccountPublic(
        id=account.id,
        external_id=account.external_id,
        name=account.name,
        legal_name=account.legal_name,
        currency=account.currency,
        country=account.country,
        time_zone=account.time_zone,
        locale=account.locale,
        payment_terms=PaymentTermsBody(kind=account.terms.kind, days=account.terms.days),
        credit_limit=(
            from_minor(account.credit_limit_minor, account.currency)
            if account.credit_limit_minor is not None
            else None
        ),
        tags=list(account.tags),
        parent_account_id=account.parent_account_id,
        dunning_policy=account.dunning_policy,
        contacts=[ContactBody.model_validate(c.model_dump()) for c in account.contacts],
        created_at=stored.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_scopes("accounts:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 409, 422),
)
async def register_account(body: AccountCreate, runtime: RuntimeDep) -> AccountPublic:
    """Register a customer account and publish AccountRegistered."""
    account = account_from(body)
    async with runtime.sessionmaker() as session, session.begin():
        stored = await handlers.register_account(
            session=session, outbox=runtime.outbox, account=account, now=runtime.clock.now()
        )
    return account_public(stored)


@router.patch(
    "/{account_id}",
    dependencies=[require_scopes("accounts:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 404, 422),
)
async def update_account(
    account_id: AccountId, body: AccountUpdate, runtime: RuntimeDep
) -> AccountPublic:
    """Change some of an account's master data; publishes AccountRegistered with the full state.

    Contacts are replaced as a whole list. The currency can change only while the account
    has no invoices; a parent that is the account or one of its descendants is refused.
    """
    async with runtime.sessionmaker() as session, session.begin():
        stored = await handlers.update_account(
            session=session,
            outbox=runtime.outbox,
            account_id=account_id,
            changes=changes_from(body),
            now=runtime.clock.now(),
        )
    return account_public(stored)


@router.get(
    "/{account_id}/children",
    dependencies=[require_scopes("accounts:read")],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_children(
    account_id: AccountId, page: PageParamsDep, runtime: RuntimeDep
) -> Page[AccountPublic]:
    """The accounts directly under this one, in registration order."""
    after = seq_cursor(page.after)
    async with runtime.sessionmaker() as session:
        if await repository.get_account(session=session, account_id=account_id) is None:
            raise NotFoundError(f"account {account_id} does not exist")
        rows = await hierarchy.list_children(
            session=session,
            parent_id=account_id,
            after_seq=after,
            limit=page.limit + 1,
        )
    result = build_page(rows, limit=page.limit, sort_key=lambda s: [s.seq])
    return Page[AccountPublic](
        items=[account_public(s) for s in result.items], next_cursor=result.next_cursor
    )


@router.get(
    "/{account_id}/balance",
    dependencies=[require_scopes("accounts:read")],
    responses=problem_responses(401, 403, 404, 422),
)
async def account_balance(
    account_id: AccountId,
    runtime: RuntimeDep,
    include_children: Annotated[
        bool, Query(description="Roll up over every account below this one")
    ] = False,
) -> AccountBalancePublic:
    """Open, overdue and disputed balance, unapplied credit and invoice counts per currency."""
    today = runtime.clock.now().date()
    async with runtime.sessionmaker() as session:
        if await repository.get_account(session=session, account_id=account_id) is None:
            raise NotFoundError(f"account {account_id} does not exist")
        group = await hierarchy.balances(
            session=session, account_id=account_id, include_children=include_children, today=today
        )
    return AccountBalancePublic(
        account_id=account_id,
        include_children=include_children,
        accounts=group.accounts,
        as_of=today,
        balances=[
            CurrencyBalancePublic(
                currency=b.currency,
                open=from_minor(b.open_minor, b.currency),
                overdue=from_minor(b.overdue_minor, b.currency),
                disputed=from_minor(b.disputed_minor, b.currency),
                unapplied_credit=from_minor(b.unapplied_credit_minor, b.currency),
                invoices=InvoiceCounts(
                    open=b.open_invoices, overdue=b.overdue_invoices, total=b.invoices
                ),
            )
            for b in group.currencies.values()
        ],
    )


@router.get(
    "/{account_id}",
    dependencies=[require_scopes("accounts:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_account(account_id: AccountId, runtime: RuntimeDep) -> AccountPublic:
    """One account by its Dunlin id."""
    async with runtime.sessionmaker() as session:
        stored = await repository.get_account(session=session, account_id=account_id)
    if stored is None:
        raise NotFoundError(f"account {account_id} does not exist")
    return account_public(stored)


@router.get(
    "",
    dependencies=[require_scopes("accounts:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_accounts(page: PageParamsDep, runtime: RuntimeDep) -> Page[AccountPublic]:
    """Accounts in registration order."""
    after = seq_cursor(page.after)
    async with runtime.sessionmaker() as session:
        rows = await repository.list_accounts(
            session=session, after_seq=after, limit=page.limit + 1
        )
    result = build_page(rows, limit=page.limit, sort_key=lambda s: [s.seq])
    return Page[AccountPublic](
        items=[account_public(s) for s in result.items], next_cursor=result.next_cursor
    )
