"""Saved template versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.db import TemplateRow

TemplateId = tuple[str, str, str]  # key, channel, locale


async def latest(
    *, session: AsyncSession, ids: Collection[TemplateId]
) -> dict[TemplateId, TemplateRow]:
    """The newest saved version of each (key, channel, locale) that has one."""
    if not ids:
        return {}
    key = tuple_(TemplateRow.template_key, TemplateRow.channel, TemplateRow.locale)
    query = (
        select(TemplateRow)
        .where(key.in_(list(ids)))
        .order_by(
            TemplateRow.template_key,
            TemplateRow.channel,
            TemplateRow.locale,
            TemplateRow.version.desc(),
        )
        .ext(distinct_on(TemplateRow.template_key, TemplateRow.channel, TemplateRow.locale))
    )
    rows = (await session.scalars(query)).all()
    return {(r.template_key, r.channel, r.locale): r for r in rows}


async def versions(
    *, session: AsyncSession, template_key: str, channel: str, locale: str
) -> list[TemplateRow]:
    """Every saved version, newest first."""
    query = (
        select(TemplateRow)
        .where(
            TemplateRow.template_key == template_key,
            TemplateRow.channel == channel,
            TemplateRow.locale == locale,
        )
        .order_by(TemplateRow.version.desc())
    )
    return list((await session.scalars(query)).all())


async def add_version(
    *,
    session: AsyncSession,
    template_key: str,
    channel: str,
    locale: str,
    source: str,
    created_by: str,
    now: dt.datetime,
) -> TemplateRow:
    """Save the next version (the unique constraint settles concurrent saves)."""
    current = await session.scalar(
        select(func.max(TemplateRow.version)).where(
            TemplateRow.template_key == template_key,
            TemplateRow.channel == channel,
            TemplateRow.locale == locale,
        )
    )
    row = TemplateRow(
        template_key=template_key,
        channel=channel,
        locale=locale,
        version=(current or 0) + 1,
        source=source,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def keys(*, session: AsyncSession) -> list[TemplateId]:
    """Every (key, channel, locale) with saved versions."""
    query = select(TemplateRow.template_key, TemplateRow.channel, TemplateRow.locale).distinct()
    return [(k, c, loc) for k, c, loc in (await session.execute(query)).all()]
