"""Templates: read what is in use, save new versions (checked first), preview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from jinja2 import TemplateError
from pydantic import ValidationError

from dunlin_platform.auth import Principal, require_scopes
from dunlin_platform.http.problems import (
    FieldError,
    NotFoundError,
    UnprocessableError,
    problem_responses,
)
from notifications.api.deps import RuntimeDep, SettingsDep
from notifications.api.schemas import (
    PreviewPublic,
    PreviewRequest,
    TemplateChannel,
    TemplateCreate,
    TemplatePublic,
    TemplateVersionPublic,
)
from notifications.db import TemplateRow
from notifications.repository import templates as repo
from notifications.templates.context import template_context
from notifications.templates.engine import check, compile_source, render
from notifications.templates.sample import sample_request
from notifications.templates.store import resolve

router = APIRouter(prefix="/templates", tags=["templates"])

KeyPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")]
LocalePath = Annotated[str, Path(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]


def _version(row: TemplateRow) -> TemplateVersionPublic:
    return TemplateVersionPublic.model_validate(row, from_attributes=True)


def _broken(detail: str, field: str = "source") -> UnprocessableError:
    error = FieldError(field=field, location="body", message=detail, type="template_error")
    return UnprocessableError(detail, slug="template-error", errors=[error])


@router.get(
    "/{template_key}/{channel}/{locale}",
    dependencies=[require_scopes("notifications:read")],
    responses=problem_responses(401, 403, 404),
)
async def get_template(
    template_key: KeyPath, channel: TemplateChannel, locale: LocalePath, runtime: RuntimeDep
) -> TemplatePublic:
    """The template a message would use now, and every saved version."""
    async with runtime.sessionmaker() as session:
        found = await resolve(session=session, wanted=[(template_key, channel, locale)])
        versions = await repo.versions(
            session=session, template_key=template_key, channel=channel, locale=locale
        )
    resolved = found.get((template_key, channel, locale))
    if resolved is None:
        raise NotFoundError(f"No template {template_key!r} for {channel} in {locale}.")
    source = versions[0].source if versions and resolved.origin != "shipped" else None
    return TemplatePublic(
        template_key=template_key,
        channel=channel,
        locale=locale,
        origin=resolved.origin,
        source=source or _shipped_or_empty(template_key, channel, locale),
        versions=[_version(v) for v in versions],
    )


def _shipped_or_empty(template_key: str, channel: str, locale: str) -> str:
    from notifications.templates.engine import shipped_source

    return (
        shipped_source(template_key, channel, locale)
        or shipped_source(template_key, channel, "en")
        or ""
    )


@router.post(
    "/{template_key}/{channel}/{locale}",
    status_code=201,
    responses=problem_responses(401, 403, 422),
)
async def save_template(
    template_key: KeyPath,
    channel: TemplateChannel,
    locale: LocalePath,
    body: TemplateCreate,
    runtime: RuntimeDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require_scopes("notifications:write")],
) -> TemplateVersionPublic:
    """Save a new version; a template that does not compile or render the sample is a 422."""
    sample = template_context(
        sample_request({"locale": locale}), creditor_name=settings.creditor_name
    )
    try:
        check(body.source, channel, [sample], locale=locale)
    except TemplateError as exc:
        raise _broken(f"The template does not render: {exc}") from exc
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        row = await repo.add_version(
            session=session,
            template_key=template_key,
            channel=channel,
            locale=locale,
            source=body.source,
            created_by=principal.name,
            now=now,
        )
    return _version(row)


@router.post(
    "/preview",
    dependencies=[require_scopes("notifications:read")],
    responses=problem_responses(401, 403, 404, 422),
)
async def preview(
    body: PreviewRequest, runtime: RuntimeDep, settings: SettingsDep
) -> PreviewPublic:
    """Render a template for the sample request with the given fields on top."""
    try:
        request = sample_request((body.data or {}) | {"locale": body.locale})
    except ValidationError as exc:
        raise _broken(f"The data is not a valid request: {exc.errors()[0]['msg']}", "data") from exc
    if body.source is not None:
        template, origin = compile_source_or_422(body.source), "unsaved"
    else:
        async with runtime.sessionmaker() as session:
            wanted = (body.template_key, body.channel, body.locale)
            found = (await resolve(session=session, wanted=[wanted])).get(wanted)
        if found is None:
            raise NotFoundError(f"No template {body.template_key!r} for {body.channel}.")
        template, origin = found.template, found.origin
    data = template_context(request, creditor_name=settings.creditor_name)
    try:
        rendered = render(template, body.channel, data, locale=body.locale)
    except TemplateError as exc:
        raise _broken(f"The template does not render: {exc}") from exc
    return PreviewPublic(origin=origin, parts=dict(rendered.parts))


def compile_source_or_422(source: str):  # type: ignore[no-untyped-def]
    """Compile unsaved source, or a 422."""
    try:
        return compile_source(source)
    except TemplateError as exc:
        raise _broken(f"The template does not compile: {exc}") from exc
