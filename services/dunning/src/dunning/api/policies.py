"""Policies as data: create versions, read them, assign them by tag or risk tier."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from dunlin_platform.auth import require_scopes
from dunlin_platform.http.idempotency import IdempotencyDep
from dunlin_platform.http.pagination import Page, PageParamsDep, build_page, invalid_cursor
from dunlin_platform.http.problems import NotFoundError, problem_responses
from dunning import repository as repo
from dunning.api.deps import RuntimeDep, refused
from dunning.db import assignments, policies
from dunning.domain.policy import BUILT_IN, Policy
from dunning.schemas import AssignmentCreate, PolicyCreate, PolicyPublic

router = APIRouter(tags=["policies"])
PolicyId = Annotated[str, Path(min_length=1, max_length=100)]


def _public(policy: Policy, created_by: str = "built-in") -> PolicyPublic:
    return PolicyPublic(
        policy_id=policy.policy_id,
        version=policy.version,
        body=policy.body,
        created_by=created_by,
        built_in=created_by == "built-in",
    )


@router.post(
    "/policies",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_scopes("dunning:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 422),
)
async def create_policy(body: PolicyCreate, runtime: RuntimeDep) -> PolicyPublic:
    """Store a new version; open cases keep the version they started with."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(body.policy_id))))
        stored = await session.scalar(
            select(func.max(policies.c.version)).where(policies.c.policy_id == body.policy_id)
        )
        version = (stored or (1 if body.policy_id in BUILT_IN else 0)) + 1
        await session.execute(
            insert(policies).values(
                policy_id=body.policy_id,
                version=version,
                body=body.body.model_dump(mode="json"),
                created_by=body.created_by,
            )
        )
    return _public(
        Policy(policy_id=body.policy_id, version=version, body=body.body), body.created_by
    )


@router.get(
    "/policies",
    dependencies=[require_scopes("dunning:read")],
    responses=problem_responses(401, 403),
)
async def list_policies(runtime: RuntimeDep, page: PageParamsDep) -> Page[PolicyPublic]:
    """The latest version of every policy, by id."""
    after = page.after
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise invalid_cursor()
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)
    ids = sorted(i for i in book.latest if after is None or i > after[0])
    rows = [
        _public(
            book.latest[i], "api" if (i, book.latest[i].version) not in _built_in() else "built-in"
        )
        for i in ids[: page.limit + 1]
    ]
    return build_page(rows, limit=page.limit, sort_key=lambda p: [p.policy_id])


def _built_in() -> set[tuple[str, int]]:
    return {(i, 1) for i in BUILT_IN}


@router.get(
    "/policies/{policy_id}/versions/{version}",
    dependencies=[require_scopes("dunning:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_policy_version(
    policy_id: PolicyId, version: int, runtime: RuntimeDep
) -> PolicyPublic:
    """One version of a policy, as cases pinned to it follow it."""
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)
    policy = book.versions.get((policy_id, version))
    if policy is None:
        raise NotFoundError(f"policy {policy_id} has no version {version}")
    return _public(policy, "built-in" if (policy_id, version) in _built_in() else "api")


@router.get(
    "/policies/{policy_id}",
    dependencies=[require_scopes("dunning:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_policy(policy_id: PolicyId, runtime: RuntimeDep) -> PolicyPublic:
    """The latest version of a policy."""
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)
    policy = book.latest.get(policy_id)
    if policy is None:
        raise NotFoundError(f"no policy {policy_id}")
    return _public(policy, "built-in" if (policy_id, policy.version) in _built_in() else "api")


@router.post(
    "/policy-assignments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_scopes("dunning:write"), IdempotencyDep],
    responses=problem_responses(401, 403, 422),
)
async def assign(body: AssignmentCreate, runtime: RuntimeDep) -> AssignmentCreate:
    """Accounts with this tag (or in this risk tier) follow the policy."""
    if body.kind == "tier" and body.value not in ("low", "medium", "high", "critical"):
        raise refused("tier must be low, medium, high or critical", field="value")
    async with runtime.sessionmaker() as session, session.begin():
        book = await repo.policy_book(session=session)
        if body.policy_id not in book.latest:
            raise refused(f"no policy {body.policy_id}", field="policy_id")
        stmt = insert(assignments).values(
            kind=body.kind, value=body.value, policy_id=body.policy_id
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[assignments.c.kind, assignments.c.value],
                set_={"policy_id": body.policy_id},
            )
        )
    return body


@router.get(
    "/policy-assignments",
    dependencies=[require_scopes("dunning:read")],
    responses=problem_responses(401, 403),
)
async def list_assignments(runtime: RuntimeDep, page: PageParamsDep) -> Page[AssignmentCreate]:
    """Tag and tier assignments (built-in ones included)."""
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)
    rows = [
        AssignmentCreate(kind="tag", value=k, policy_id=v) for k, v in sorted(book.by_tag.items())
    ]
    rows += [
        AssignmentCreate(kind="tier", value=k, policy_id=v) for k, v in sorted(book.by_tier.items())
    ]
    start = int(page.after[0]) if page.after else 0
    chunk = list(enumerate(rows))[start : start + page.limit + 1]
    result = build_page(chunk, limit=page.limit, sort_key=lambda item: [item[0] + 1])
    return Page[AssignmentCreate](
        items=[r for _, r in result.items], next_cursor=result.next_cursor
    )
