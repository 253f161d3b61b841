"""Ledger actions on invoices (notes, cancel, write-off) and disputes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import Field
from sqlalchemy import select

from dunlin_events import from_minor, to_minor
from dunlin_events.ledger import AdjustmentKind, DisputeOutcome, DisputeReason
from dunlin_platform.auth import Principal, require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page
from dunlin_platform.http.problems import NotFoundError, problem_responses
from invoicing import repository
from invoicing.api.deps import RuntimeDep, seq_cursor
from invoicing.api.invoices import invoice_public
from invoicing.db import DisputeRow, InvoiceRow
from invoicing.ledger import commands
from invoicing.schemas import InvoicePublic, Schema

router = APIRouter(tags=["ledger"])
Id = Annotated[str, Path(min_length=1, max_length=100)]
Writer = Annotated[Principal, require_scopes("invoices:write")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
POST_RESPONSES = problem_responses(401, 403, 404, 409, 422)
READ_RESPONSES = problem_responses(401, 403, 422)


class NoteCreate(Schema):
    """A credit or debit note on an invoice."""

    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4)]
    reason: Reason


class ReasonBody(Schema):
    """Why (kept on the audit record)."""

    reason: Reason | None = None


class DisputeCreate(Schema):
    """Dispute part of an invoice."""

    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4)]
    reason: DisputeReason
    contact_id: Annotated[str, Field(max_length=100)] | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None


class DisputeResolve(Schema):
    """How a dispute ended; upheld needs the credit note amount."""

    outcome: DisputeOutcome
    credit_amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)] = Decimal(0)
    note: Annotated[str, Field(max_length=2000)] | None = None


class DisputePublic(Schema):
    """A dispute with its audit trail."""

    id: str
    invoice_id: str
    account_id: str
    currency: str
    amount: Decimal
    reason: str
    contact_id: str | None
    note: str | None
    status: str
    opened_by: str
    opened_at: str
    resolved_by: str | None
    resolved_at: str | None
    resolution_note: str | None
    credited_amount: Decimal
    credit_note_id: str | None


def dispute_public(d: DisputeRow) -> DisputePublic:
    """The API view of a dispute."""
    return DisputePublic(
        id=d.id,
        invoice_id=d.invoice_id,
        account_id=d.account_id,
        currency=d.currency,
        amount=from_minor(d.amount_minor, d.currency),
        reason=d.reason,
        contact_id=d.contact_id,
        note=d.note,
        status=d.status,
        opened_by=d.opened_by,
        opened_at=d.opened_at.isoformat(),
        resolved_by=d.resolved_by,
        resolved_at=d.resolved_at.isoformat() if d.resolved_at else None,
        resolution_note=d.resolution_note,
        credited_amount=from_minor(d.credited_minor, d.currency),
        credit_note_id=d.credit_note_id,
    )


async def _currency(runtime: RuntimeDep, invoice_id: str) -> str:
    async with runtime.sessionmaker() as session:
        currency = await session.scalar(
            select(InvoiceRow.currency).where(InvoiceRow.id == invoice_id)
        )
    if currency is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    return currency


async def _adjust(
    runtime: RuntimeDep,
    invoice_id: str,
    kind: AdjustmentKind,
    amount: Decimal,
    reason: str | None,
    principal: Principal,
) -> InvoicePublic:
    amount_minor = to_minor(amount, await _currency(runtime, invoice_id)) if amount else 0
    async with runtime.sessionmaker() as session, session.begin():
        await commands.adjust_invoice(
            session=session,
            outbox=runtime.outbox,
            invoice_id=invoice_id,
            kind=kind,
            amount_minor=amount_minor,
            reason=reason,
            actor=principal.name,
            now=runtime.clock.now(),
        )
        stored = await repository.get_invoice(session=session, invoice_id=invoice_id)
    assert stored is not None
    return invoice_public(stored)


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyDep],
    responses=POST_RESPONSES,
)
async def credit_note(
    invoice_id: Id, body: NoteCreate, runtime: RuntimeDep, principal: Writer
) -> InvoicePublic:
    """Reduce total and balance (never below what has been paid); InvoiceAdjusted."""
    return await _adjust(runtime, invoice_id, "credit_note", body.amount, body.reason, principal)


@router.post(
    "/invoices/{invoice_id}/debit-notes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyDep],
    responses=POST_RESPONSES,
)
async def debit_note(
    invoice_id: Id, body: NoteCreate, runtime: RuntimeDep, principal: Writer
) -> InvoicePublic:
    """Increase total and balance; InvoiceAdjusted."""
    return await _adjust(runtime, invoice_id, "debit_note", body.amount, body.reason, principal)


@router.post(
    "/invoices/{invoice_id}/cancel", dependencies=[IdempotencyDep], responses=POST_RESPONSES
)
async def cancel(
    invoice_id: Id, body: ReasonBody, runtime: RuntimeDep, principal: Writer
) -> InvoicePublic:
    """Void an invoice nothing has been applied to; InvoiceAdjusted (cancellation)."""
    return await _adjust(runtime, invoice_id, "cancellation", Decimal(0), body.reason, principal)


@router.post(
    "/invoices/{invoice_id}/write-off", dependencies=[IdempotencyDep], responses=POST_RESPONSES
)
async def write_off(
    invoice_id: Id, body: ReasonBody, runtime: RuntimeDep, principal: Writer
) -> InvoicePublic:
    """Write the remaining balance off as bad debt; InvoiceAdjusted (write_off)."""
    return await _adjust(runtime, invoice_id, "write_off", Decimal(0), body.reason, principal)


@router.post(
    "/invoices/{invoice_id}/disputes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyDep],
    responses=POST_RESPONSES,
)
async def open_dispute(
    invoice_id: Id, body: DisputeCreate, runtime: RuntimeDep, principal: Writer
) -> DisputePublic:
    """Dispute part of the balance (not dunned while open); InvoiceDisputed."""
    amount_minor = to_minor(body.amount, await _currency(runtime, invoice_id))
    async with runtime.sessionmaker() as session, session.begin():
        dispute = await commands.open_dispute(
            session=session,
            outbox=runtime.outbox,
            invoice_id=invoice_id,
            amount_minor=amount_minor,
            reason=body.reason,
            contact_id=body.contact_id,
            note=body.note,
            actor=principal.name,
            now=runtime.clock.now(),
        )
    return dispute_public(dispute)


@router.post(
    "/disputes/{dispute_id}/resolve", dependencies=[IdempotencyDep], responses=POST_RESPONSES
)
async def resolve_dispute(
    dispute_id: Id, body: DisputeResolve, runtime: RuntimeDep, principal: Writer
) -> DisputePublic:
    """Uphold (with a credit note), reject or withdraw; DisputeResolved."""
    async with runtime.sessionmaker() as session, session.begin():
        found = await session.get(DisputeRow, dispute_id)
        if found is None:
            raise NotFoundError(f"dispute {dispute_id} does not exist")
        dispute = await commands.resolve_dispute(
            session=session,
            outbox=runtime.outbox,
            dispute_id=dispute_id,
            outcome=body.outcome,
            credit_minor=to_minor(body.credit_amount, found.currency),
            note=body.note,
            actor=principal.name,
            now=runtime.clock.now(),
        )
    return dispute_public(dispute)


async def _disputes(
    runtime: RuntimeDep, page: PageParamsDep, **where: str | None
) -> Page[DisputePublic]:
    after = seq_cursor(page.after)
    query = select(DisputeRow).order_by(DisputeRow.seq).limit(page.limit + 1)
    for column, value in where.items():
        if value is not None:
            query = query.where(getattr(DisputeRow, column) == value)
    if after is not None:
        query = query.where(DisputeRow.seq > after)
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(query))
    result = build_page(rows, limit=page.limit, sort_key=lambda d: [d.seq])
    return Page[DisputePublic](
        items=[dispute_public(d) for d in result.items], next_cursor=result.next_cursor
    )


@router.get(
    "/invoices/{invoice_id}/disputes",
    dependencies=[require_scopes("invoices:read")],
    responses=READ_RESPONSES,
)
async def invoice_disputes(
    invoice_id: Id, page: PageParamsDep, runtime: RuntimeDep
) -> Page[DisputePublic]:
    """The disputes of one invoice, oldest first."""
    return await _disputes(runtime, page, invoice_id=invoice_id)


@router.get("/disputes", dependencies=[require_scopes("invoices:read")], responses=READ_RESPONSES)
async def list_disputes(
    page: PageParamsDep,
    runtime: RuntimeDep,
    status: Literal["open", "upheld", "rejected", "withdrawn"] | None = None,
) -> Page[DisputePublic]:
    """Disputes, oldest first, optionally by status."""
    return await _disputes(runtime, page, status=status)
