"""Invoices: issue, read, list."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Path, Query, Request, Response, status
from opentelemetry import trace

from dunlin_events import from_minor
from dunlin_platform.auth import require_scopes, scope_check
from dunlin_platform.http.direct import direct_route
from dunlin_platform.http.idempotency import IDEMPOTENCY_HEADER, IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page
from dunlin_platform.http.problems import NotFoundError, problem_responses
from dunlin_platform.telemetry import traceparent_of
from invoicing import handlers, repository
from invoicing.api.deps import RuntimeDep, dated_cursor, invoice_issuer
from invoicing.domain import EarlyPaymentDiscount, Invoice, InvoiceStatus, LineDraft, Terms
from invoicing.repository import Stored
from invoicing.schemas import InvoiceCreate, InvoicePublic

router = APIRouter(prefix="/invoices", tags=["invoices"])
InvoiceId = Annotated[str, Path(min_length=1, max_length=100)]


def command_from(body: InvoiceCreate) -> handlers.IssueInvoice:
    """The IssueInvoice command a request asks for, its lines priced."""
    discount = body.early_payment_discount
    terms = body.payment_terms
    drafts = [
        LineDraft(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
        )
        for line in body.lines
    ]
    return handlers.IssueInvoice(
        account_id=body.account_id,
        invoice_number=body.invoice_number,
        currency=body.currency,
        issue_date=body.issue_date,
        due_date=body.due_date,
        terms=Terms(kind=terms.kind, days=terms.days) if terms else None,
        lines=handlers.priced_lines(drafts, currency=body.currency),
        external_id=body.external_id,
        early_payment_discount=(
            EarlyPaymentDiscount(percent=discount.percent, days=discount.days) if discount else None
        ),
        purchase_order=body.purchase_order,
        traceparent=traceparent_of(trace.get_current_span()),
    )


def invoice_fields(stored: Stored[Invoice]) -> dict[str, Any]:
    """The API view of a stored invoice as plain data, in `InvoicePublic`'s field order."""
    invoice = stored.item
    currency = invoice.currency
    discount = invoice.early_payment_discount
    return {
        "id": invoice.id,
        "account_id": invoice.account_id,
        "invoice_number": invoice.invoice_number,
        "external_id": invoice.external_id,
        "currency": currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "payment_terms": {"kind": invoice.terms.kind, "days": invoice.terms.days},
        "status": invoice.status,
        "source": invoice.source,
        "subtotal": from_minor(invoice.totals.subtotal_minor, currency),
        "tax_total": from_minor(invoice.totals.tax_total_minor, currency),
        "total": from_minor(invoice.total_minor, currency),
        "balance": from_minor(invoice.balance_minor, currency),
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "tax_rate": line.tax_rate,
                "net_amount": from_minor(line.net_minor, currency),
                "tax_amount": from_minor(line.tax_minor, currency),
            }
            for line in invoice.lines
        ],
        "early_payment_discount": (
            # The form the Percent type writes (plain, never exponent notation).
            {"percent": format(discount.percent, "f"), "days": discount.days} if discount else None
        ),
        "purchase_order": invoice.purchase_order,
        "created_at": stored.created_at,
    }


def invoice_public(stored: Stored[Invoice]) -> InvoicePublic:
    """The API view of a stored invoice."""
    return InvoicePublic.model_validate(invoice_fields(stored))


def invoice_json(stored: Stored[Invoice]) -> bytes:
    """`invoice_public(stored).model_dump_json()`, without building and validating models.

    Tests prove the two identical byte for byte.
    """
    return pydantic_core.to_json(invoice_fields(stored))


async def issue_invoice(body: InvoiceCreate, request: Request) -> Response:
    """Issue an invoice: Dunlin prices the lines, stores it and publishes InvoiceIssued."""
    stored = await invoice_issuer(request).submit(command_from(body))
    # Serialised once from what was just stored, not re-validated by the response model.
    return Response(
        invoice_json(stored),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"/invoices/{stored.item.id}"},
    )


_WRITE = "invoices:write"
# The hottest route: a request without Idempotency-Key skips FastAPI's dependency solving
# (the scope check is what its dependencies do then; the key claim only acts on the header).
router.add_api_route(
    "",
    issue_invoice,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=InvoicePublic,
    dependencies=[require_scopes(_WRITE), IdempotencyDep],
    responses=problem_responses(401, 403, 409, 422),
    route_class_override=direct_route(scope_check(_WRITE), general_if_headers=[IDEMPOTENCY_HEADER]),
)


@router.get(
    "/{invoice_id}",
    dependencies=[require_scopes("invoices:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(invoice_id: InvoiceId, runtime: RuntimeDep) -> InvoicePublic:
    """One invoice with its lines."""
    async with runtime.sessionmaker() as session:
        stored = await repository.get_invoice(session=session, invoice_id=invoice_id)
    if stored is None:
        raise NotFoundError(f"invoice {invoice_id} does not exist")
    return invoice_public(stored)


@router.get(
    "",
    dependencies=[require_scopes("invoices:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_invoices(
    page: PageParamsDep,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    status: InvoiceStatus | None = None,
) -> Page[InvoicePublic]:
    """Invoices, newest issue date first, optionally for one account or status."""
    after = dated_cursor(page.after)
    async with runtime.sessionmaker() as session:
        rows = await repository.list_invoices(
            session=session,
            account_id=account_id,
            status=status,
            after=after,
            limit=page.limit + 1,
        )
    result = build_page(
        rows, limit=page.limit, sort_key=lambda s: [s.item.issue_date.isoformat(), s.seq]
    )
    return Page[InvoicePublic](
        items=[invoice_public(s) for s in result.items], next_cursor=result.next_cursor
    )
