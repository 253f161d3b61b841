"""Accounts: register, read, list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from dunlin_events import Contact, MoneyError, from_minor, to_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page
from dunlin_platform.http.problems import NotFoundError, problem_responses
from invoicing import handlers, repository
from invoicing.api.deps import RuntimeDep, field_problem, invalid_cursor
from invoicing.domain import Account, Terms
from invoicing.repository import Stored
from invoicing.schemas import AccountCreate, AccountPublic, ContactBody, PaymentTermsBody

router = APIRouter(prefix="/accounts", tags=["accounts"])
AccountId = Annotated[str, Path(min_length=1, max_length=100)]


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
        contacts=tuple(
            Contact.model_validate(
                {**c.model_dump(), "contact_id": c.contact_id or str(uuid.uuid4())}
            )
            for c in body.contacts
        ),
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
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        rows = await repository.list_accounts(
            session=session, after_seq=after[0] if after else None, limit=page.limit + 1
        )
    result = build_page(rows, limit=page.limit, sort_key=lambda s: [s.seq])
    return Page[AccountPublic](
        items=[account_public(s) for s in result.items], next_cursor=result.next_cursor
    )
