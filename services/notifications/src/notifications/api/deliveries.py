"""The delivery log: what we sent a customer, when, and whether it arrived."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from dunlin_platform.auth import Principal, require_scopes
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, cursor_of
from dunlin_platform.http.problems import (
    ConflictError,
    NotFoundError,
    problem_responses,
)
from notifications.api.deps import RuntimeDep, WorkerDep
from notifications.api.schemas import (
    ActionPublic,
    AttemptPublic,
    DeliveryPublic,
    DocumentPublic,
    ReviewClose,
    ReviewResend,
)
from notifications.db import ActionRow, AttemptRow, DeliveryRow, DocumentRow
from notifications.handlers import review
from notifications.repository import deliveries as repo

router = APIRouter(prefix="/deliveries", tags=["deliveries"])

Status = Literal["queued", "sending", "sent", "delivered", "bounced", "failed", "review"]


def _public(
    row: DeliveryRow,
    attempts: list[AttemptRow],
    documents: list[DocumentRow],
    actions: list[ActionRow] | None = None,
) -> DeliveryPublic:
    return DeliveryPublic(
        id=row.id,
        notification_id=row.notification_id,
        account_id=row.account_id,
        case_id=row.case_id,
        step_key=row.step_key,
        template_key=row.template_key,
        locale=row.locale,
        channels=row.channels,
        channel=row.channel,
        status=row.status,
        failure_reason=row.failure_reason,
        detail=row.detail,
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        attempts=[AttemptPublic.model_validate(a, from_attributes=True) for a in attempts],
        documents=[
            DocumentPublic(
                id=d.id,
                kind=d.kind,
                filename=d.filename,
                url=f"/deliveries/{row.id}/documents/{d.id}",
            )
            for d in documents
        ],
        actions=[ActionPublic.model_validate(a, from_attributes=True) for a in actions or []],
    )


def _cursor_after(after: list[object] | None) -> tuple[str, str] | None:
    checked = cursor_of(list(after) if after is not None else None, str, str)
    return (checked[0], checked[1]) if checked is not None else None


@router.get(
    "",
    dependencies=[require_scopes("notifications:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_deliveries(
    page: PageParamsDep,
    runtime: RuntimeDep,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    status: Status | None = None,
) -> Page[DeliveryPublic]:
    """Deliveries newest first, with their attempts; filter by account and status."""
    after = _cursor_after(page.after)
    async with runtime.sessionmaker() as session:
        rows = await repo.list_for_log(
            session=session, account_id=account_id, status=status, after=after, limit=page.limit + 1
        )
        result = build_page(
            rows, limit=page.limit, sort_key=lambda r: [r.created_at.isoformat(), r.id]
        )
        attempts = await repo.attempts_of(
            session=session, delivery_ids=[r.id for r in result.items]
        )
    by_delivery: dict[str, list[AttemptRow]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return Page[DeliveryPublic](
        items=[_public(r, by_delivery.get(r.id, []), []) for r in result.items],
        next_cursor=result.next_cursor,
    )


@router.get(
    "/{delivery_id}",
    dependencies=[require_scopes("notifications:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_delivery(delivery_id: str, runtime: RuntimeDep) -> DeliveryPublic:
    """One delivery with its attempts and archived documents."""
    async with runtime.sessionmaker() as session:
        row = await repo.get(session=session, delivery_id=delivery_id)
        if row is None:
            raise NotFoundError(f"No delivery {delivery_id!r}.")
        return await _loaded(session, row)


async def _loaded(session: AsyncSession, row: DeliveryRow) -> DeliveryPublic:
    attempts = await repo.attempts_of(session=session, delivery_ids=[row.id])
    documents = await repo.documents_of(session=session, delivery_id=row.id)
    actions = await repo.actions_of(session=session, delivery_id=row.id)
    return _public(row, attempts, documents, actions)


Writer = Annotated[Principal, require_scopes("notifications:write")]


@router.post(
    "/{delivery_id}/resend",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def resend_delivery(
    delivery_id: str,
    body: ReviewResend,
    runtime: RuntimeDep,
    worker: WorkerDep,
    principal: Writer,
) -> DeliveryPublic:
    """Send a delivery held for `review` again (after checking it did not leave); audited."""
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        with _review_problems(delivery_id):
            await review.resend(
                session=session,
                delivery_id=delivery_id,
                actor=principal.name,
                reason=body.reason,
                now=now,
            )
    worker.wake.set()  # this process's worker picks it up now, not at its next poll
    return await get_delivery(delivery_id, runtime)


@router.post(
    "/{delivery_id}/close",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close_delivery(
    delivery_id: str,
    body: ReviewClose,
    runtime: RuntimeDep,
    worker: WorkerDep,
    principal: Writer,
) -> DeliveryPublic:
    """Settle a delivery held for `review` as sent or failed, without sending; audited."""
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        with _review_problems(delivery_id):
            events = await review.close(
                session=session,
                delivery_id=delivery_id,
                actor=principal.name,
                reason=body.reason,
                outcome=body.outcome,
                fallback=body.fallback,
                now=now,
            )
        await runtime.outbox.add(session, *events, occurred_at=now)
    if body.fallback:
        worker.wake.set()  # this process's worker picks it up now, not at its next poll
    return await get_delivery(delivery_id, runtime)


@contextlib.contextmanager
def _review_problems(delivery_id: str) -> Iterator[None]:
    try:
        yield
    except review.NotFound:
        raise NotFoundError(f"No delivery {delivery_id!r}.") from None
    except review.NotInReview as exc:
        raise ConflictError(str(exc), slug="not-in-review") from None


@router.get(
    "/{delivery_id}/documents/{document_id}",
    dependencies=[require_scopes("notifications:read")],
    responses={**problem_responses(401, 403, 404), 200: {"content": {"application/pdf": {}}}},
    response_class=Response,
)
async def download_document(delivery_id: str, document_id: str, runtime: RuntimeDep) -> Response:
    """The archived PDF (the letter as posted, or the statement attached to an e-mail)."""
    async with runtime.sessionmaker() as session:
        doc = await repo.document(session=session, document_id=document_id)
    if doc is None or doc.delivery_id != delivery_id:
        raise NotFoundError(f"No document {document_id!r} for delivery {delivery_id!r}.")
    return Response(
        doc.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{doc.filename}"'},
    )
