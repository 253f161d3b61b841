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


FALLBACK_LOCALE = "en"


def _candidates(wanted: TemplateId) -> list[TemplateId]:
    key, channel, locale = wanted
    return [(key, channel, tag) for tag in dict.fromkeys((locale, locale.split("-")[0]))]


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
    found: dict[TemplateId, Resolved] = {}
    for item in wanted:
        key, channel, locale = item
        fallback = (key, channel, FALLBACK_LOCALE)
        row = next((saved[c] for c in _candidates(item) if c in saved), None)
        source = None if row is not None else shipped_source(key, channel, locale)
        if row is None and source is None:
            row = saved.get(fallback)
        if row is not None:
            found[item] = Resolved(compile_source(row.source), f"v{row.version}")
            continue
        source = source or shipped_source(key, channel, FALLBACK_LOCALE)
        if source is not None:
            found[item] = Resolved(compile_source(source), "shipped")
    return found
