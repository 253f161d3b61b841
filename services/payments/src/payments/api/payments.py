"""Payments: record, read, list, reverse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from dunlin_events import from_minor
from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import NotFoundError, problem_responses
from payments.api.deps import RuntimeDep, SettingsDep, minor
from payments.db import AllocationRow, PaymentRow
from payments.handlers.payments import RecordPayment, ReversePayment, record, reverse_payment
from payments.repository import ledger as ledger_repo
from payments.repository import payments as repo
from payments.schemas import (
    AllocationPublic,
    PaymentCreate,
    PaymentPublic,
    RemittanceBody,
    ReversalCreate,
)

router = APIRouter(prefix="/payments", tags=["payments"])
PaymentId = Annotated[str, Path(min_length=1, max_length=100)]


def command_from(body: PaymentCreate) -> RecordPayment:
    """The RecordPayment command a request asks for."""
    currency = body.currency
    return RecordPayment(
        account_id=body.account_id,
        amount_minor=minor(body.amount, currency, field="amount"),
        currency=currency,
        method=body.method,
        received_on=body.received_on,
        reference=body.reference,
        remittance=tuple(
            (line.invoice, minor(line.amount, currency, field=f"remittance[{i}].amount"))
            for i, line in enumerate(body.remittance)
        ),
        external_id=body.external_id,
    )


async def payments_public(
    runtime: RuntimeDep, payments: Sequence[PaymentRow]
) -> list[PaymentPublic]:
    """The API view of payments with all their allocations."""
    async with runtime.sessionmaker() as session:
        allocations = await ledger_repo.all_allocations(
            session=session, payment_ids=[p.id for p in payments]
        )
    return [payment_public(p, allocations[p.id]) for p in payments]


def payment_public(payment: PaymentRow, rows: Sequence[AllocationRow]) -> PaymentPublic:
    """The API view of one payment."""
    currency = payment.currency
    return PaymentPublic(
        id=payment.id,
        account_id=payment.account_id,
        external_id=payment.external_id,
        source=payment.source,
        amount=from_minor(payment.amount_minor, currency),
        currency=currency,
        method=payment.method,
        received_on=payment.received_on,
        reference=payment.reference,
        remittance=[
            RemittanceBody(invoice=r["invoice_id"], amount=r["amount"]) for r in payment.remittance
        ],
        allocations=[
            AllocationPublic(
                invoice_id=row.invoice_id,
                amount=from_minor(row.amount_minor, currency),
                kind=row.kind,
                reversed=row.reversed_at is not None,
            )
            for row in rows
        ],
        unapplied_amount=from_minor(payment.credit_minor + payment.earmarked_minor, currency),
        earmarked={ref: from_minor(v, currency) for ref, v in payment.earmarks.items()},
        status=payment.status,
        reversal_reason=payment.reversal_reason,
        reversed_on=payment.reversed_on,
        reversal_source_id=payment.reversal_source_id,
        created_at=payment.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_scopes("payments:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 409, 422),
)
async def record_payment(
    body: PaymentCreate, runtime: RuntimeDep, settings: SettingsDep, response: Response
) -> PaymentPublic:
    """Record a payment: allocate it and publish PaymentReceived."""
    command = command_from(body)
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        accounts = await ledger_repo.lock_accounts(session=session, account_ids=[body.account_id])
        payment, events = await record(
            session=session,
            account=accounts.get(body.account_id),
            command=command,
            default_rule=settings.default_allocation_rule,
            now=now,
        )
        await runtime.outbox.add(session, *events, occurred_at=now)
    response.headers["Location"] = f"/payments/{payment.id}"
    return (await payments_public(runtime, [payment]))[0]


@router.post(
    "/{payment_id}/reverse",
    dependencies=[require_scopes("payments:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reverse(
    payment_id: PaymentId, body: ReversalCreate, runtime: RuntimeDep, settings: SettingsDep
) -> PaymentPublic:
    """Reverse a payment: undo its allocations, withdraw its credit, publish PaymentReversed."""
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        result = await reverse_payment(
            session=session,
            command=ReversePayment(payment_id, body.reason, body.reversed_on),
            default_rule=settings.default_allocation_rule,
            now=now,
        )
        if result is None:
            raise NotFoundError(f"payment {payment_id} does not exist")
        payment, events = result
        await runtime.outbox.add(session, *events, occurred_at=now)
    return (await payments_public(runtime, [payment]))[0]


@router.get(
    "/{payment_id}",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_payment(payment_id: PaymentId, runtime: RuntimeDep) -> PaymentPublic:
    """One payment with its allocations."""
    async with runtime.sessionmaker() as session:
        payment = await repo.get_payment(session=session, payment_id=payment_id)
    if payment is None:
        raise NotFoundError(f"payment {payment_id} does not exist")
    return (await payments_public(runtime, [payment]))[0]


@router.get(
    "",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_payments(
    page: PageParamsDep,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[PaymentPublic]:
    """Payments in arrival order, optionally of one account."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        rows = await repo.list_payments(
            session=session,
            account_id=account_id,
            after_seq=after[0] if after else None,
            limit=page.limit + 1,
        )
    result = build_page(rows, limit=page.limit, sort_key=lambda p: [p.seq])
    return Page[PaymentPublic](
        items=await payments_public(runtime, result.items),
        next_cursor=result.next_cursor,
    )
