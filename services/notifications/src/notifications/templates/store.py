"""Which template a message uses: a saved version first, then the shipped one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from jinja2 import Template
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.repository import templates as repo
from notifications.templates.engine import compile_source, shipped_source

TemplateId = repo.TemplateId


@dataclass(frozen=True)
class Resolved:
    """A compiled template and where it came from (`shipped` or `v<N>`)."""

    template: Template
    origin: str


def _candidates(wanted: TemplateId) -> list[TemplateId]:
    key, channel, locale = wanted
    return [(key, channel, tag) for tag in dict.fromkeys((locale, locale.split("-")[0]))]


async def resolve(
    *, session: AsyncSession, wanted: Collection[TemplateId]
) -> dict[TemplateId, Resolved]:
    """Compiled templates for each wanted id that exists; missing ones are left out."""
    candidates = {c for w in wanted for c in _candidates(w)}
    saved = await repo.latest(session=session, ids=candidates)
    found: dict[TemplateId, Resolved] = {}
    for item in wanted:
        for candidate in _candidates(item):
            if candidate in saved:
                row = saved[candidate]
                found[item] = Resolved(compile_source(row.source), f"v{row.version}")
                break
        else:
            key, channel, locale = item
            source = shipped_source(key, channel, locale) or shipped_source(key, channel, "en")
            if source is not None:
                found[item] = Resolved(compile_source(source), "shipped")
    return found
