"""ERP payments held until their account is known: what waits, and what became of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import problem_responses
from payments.api.deps import RuntimeDep
from payments.db import PendingPaymentRow
from payments.repository import pending as repo
from payments.schemas import (
    HeldReturnPublic,
    PendingPaymentPublic,
    PendingStatus,
    RemittanceBody,
)

# Registered before the payments router, so /payments/pending is not read as a payment id.
router = APIRouter(prefix="/payments", tags=["payments"])


def pending_public(row: PendingPaymentRow) -> PendingPaymentPublic:
    """The API view of a held payment (amounts as the ERP sent them)."""
    payload = row.payload
    return PendingPaymentPublic(
        id=row.id,
        source_id=row.source_id,
        erp_account_id=row.erp_account_id,
        event_id=row.event_id,
        amount=Decimal(payload["amount"]),
        currency=payload["currency"],
        method=payload["method"],
        received_on=payload["received_on"],
        reference=payload.get("reference"),
        remittance=[
            RemittanceBody(invoice=line["invoice_id"], amount=line["amount"])
            for line in payload.get("remittance", [])
        ],
        received_at=row.received_at,
        status=row.status,
        payment_id=row.payment_id,
        error=row.error,
        resolved_at=row.resolved_at,
        returned=None
        if row.return_payload is None
        else HeldReturnPublic(
            return_id=row.return_payload["return_id"],
            reason=row.return_payload["reason"],
            returned_on=row.return_payload["returned_on"],
        ),
    )


@router.get(
    "/pending",
    dependencies=[require_scopes("payments:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_pending(
    page: PageParamsDep,
    runtime: RuntimeDep,
    status: Annotated[
        PendingStatus | Literal["all"], Query(description="waiting (default), or what became of it")
    ] = "waiting",
    erp_account_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[PendingPaymentPublic]:
    """ERP payments held for an account payments does not know yet, in arrival order."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        rows = await repo.list_held(
            session=session,
            status=None if status == "all" else status,
            erp_account_id=erp_account_id,
            after_id=after[0] if after else None,
            limit=page.limit + 1,
        )
    result = build_page(rows, limit=page.limit, sort_key=lambda r: [r.id])
    return Page[PendingPaymentPublic](
        items=[pending_public(r) for r in result.items], next_cursor=result.next_cursor
    )
