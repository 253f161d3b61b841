"""Administration: full rescoring and the stored model versions."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.problems import problem_responses
from risk.api.deps import RuntimeDep
from risk.db import ModelRow
from risk.rescoring import rescore_all
from risk.schemas import ModelPublic, RescoreRequest, RescoreResult

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/rescore",
    dependencies=[require_scopes("admin"), IdempotencyDep],
    responses=problem_responses(401, 403, 422),
)
async def rescore(body: RescoreRequest, runtime: RuntimeDep) -> RescoreResult:
    """Rescore every registered account with the active model; publish material changes."""
    await runtime.registry.refresh(runtime.sessionmaker)
    report = await rescore_all(
        sessionmaker=runtime.sessionmaker,
        outbox=runtime.outbox,
        scorer=runtime.registry.current,
        now=runtime.clock.now(),
        as_of=body.as_of,
        chunk=runtime.settings.rescore_chunk_size,
        processes=runtime.settings.rescore_processes,
        settings=runtime.settings,
    )
    return RescoreResult(
        accounts=report.accounts, published=report.published, model_version=runtime.registry.version
    )


@router.get(
    "/models",
    dependencies=[require_scopes("risk:read")],
    responses=problem_responses(401, 403),
)
async def list_models(runtime: RuntimeDep) -> list[ModelPublic]:
    """Stored model versions, newest first (a short list: one row per training run)."""
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(select(ModelRow).order_by(ModelRow.created_at.desc()))
        return [ModelPublic.model_validate(r, from_attributes=True) for r in rows]
