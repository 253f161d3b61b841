"""Which template a message uses: a saved version first, then the shipped one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from jinja2 import Template
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.db import TemplateRow
from notifications.repository import templates as repo
from notifications.templates.engine import compile_source, locale_tags, shipped_source

TemplateId = repo.TemplateId


@dataclass(frozen=True)
class Resolved:
    """A compiled template and where it came from (`shipped` or `v<N>`)."""

    template: Template
    origin: str


FALLBACK_LOCALE = "en"


def _candidates(wanted: TemplateId) -> list[TemplateId]:
    key, channel, locale = wanted
    return [(key, channel, tag) for tag in locale_tags(locale)]


async def resolve(
    *, session: AsyncSession, wanted: Collection[TemplateId]
) -> dict[TemplateId, Resolved]:
    """Compiled templates for each wanted id that exists; missing ones are left out.

    The request's locale and its language, saved before shipped; then English, saved before
    shipped (an operator's English version serves languages that have no template).
    """
    fallbacks = {(key, channel, FALLBACK_LOCALE) for key, channel, _ in wanted}
    candidates = {c for w in wanted for c in _candidates(w)} | fallbacks
    saved = await repo.latest(session=session, ids=candidates)
    found = {item: _resolve_one(item, saved) for item in wanted}
    return {item: resolved for item, resolved in found.items() if resolved is not None}


def _resolve_one(item: TemplateId, saved: Mapping[TemplateId, TemplateRow]) -> Resolved | None:
    key, channel, locale = item
    row = next((saved[c] for c in _candidates(item) if c in saved), None)
    if row is not None:
        return Resolved(compile_source(row.source), f"v{row.version}")
    if (source := shipped_source(key, channel, locale)) is not None:
        return Resolved(compile_source(source), "shipped")
    if (row := saved.get((key, channel, FALLBACK_LOCALE))) is not None:
        return Resolved(compile_source(row.source), f"v{row.version}")
    if (source := shipped_source(key, channel, FALLBACK_LOCALE)) is not None:
        return Resolved(compile_source(source), "shipped")
    return None
