"""Compiling and rendering templates: autoescaped, strict about missing data, locale-aware."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    Environment,
    StrictUndefined,
    Template,
    TemplateError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

DEFAULTS_DIR = Path(__file__).parent / "defaults"
TEMPLATE_CHANNELS = ("email", "sms", "letter", "voice")
BLOCKS: Mapping[str, tuple[str, ...]] = {
    "email": ("subject", "text", "html"),
    "sms": ("text",),
    "voice": ("text",),
    "letter": ("subject", "body", "closing"),
}


class MissingData(TemplateError):
    """The template prints a value the request does not carry."""


@dataclass(frozen=True)
class Rendered:
    """A rendered message: one string per block (subject, text, html, body, closing)."""

    parts: Mapping[str, str]

    def __getitem__(self, block: str) -> str:
        return self.parts[block]


def _finalize(value: object) -> object:
    if value is None:
        raise MissingData("the template prints a value the request does not have")
    return value


@lru_cache(maxsize=256)
def babel_locale(tag: str) -> Locale:
    """The parsed Babel locale for a tag ("de-DE" or "de_DE"); parsing each time is slow."""
    return Locale.parse(tag.replace("-", "_"))


def _locale(context: Context) -> str:
    return str(context.get("locale") or "en")


# A message prints the same amounts and dates several times (subject, text, HTML) and Babel
# formatting is slow: remember recent results.
@lru_cache(maxsize=4096)
def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """An amount in the locale's currency format."""
    return format_currency(amount, currency, locale=babel_locale(locale))


@lru_cache(maxsize=4096)
def format_day(value: dt.date, style: str, locale: str) -> str:
    """A date in the locale's format (`short`, `medium`, `long`, `full` or a pattern)."""
    return format_date(value, format=style, locale=babel_locale(locale))


@pass_context
def _money(context: Context, amount: Decimal | None, currency: str | None = None) -> str:
    if amount is None:
        raise MissingData("the template formats an amount the request does not have")
    return format_money(amount, currency or context["currency"], _locale(context))


@pass_context
def _number(context: Context, value: Decimal | int | None) -> str:
    if value is None:
        raise MissingData("the template formats a number the request does not have")
    return format_decimal(value, locale=babel_locale(_locale(context)))


@pass_context
def _date(context: Context, value: dt.date | None, style: str = "long") -> str:
    if value is None:
        raise MissingData("the template formats a date the request does not have")
    return format_day(value, style, _locale(context))


def build_environment() -> Environment:
    """A sandboxed, autoescaping environment that refuses undefined names and printed Nones."""
    env = SandboxedEnvironment(
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=False,
        keep_trailing_newline=False,
    )
    env.filters.update(money=_money, number=_number, date=_date)
    return env


_ENV = build_environment()


@lru_cache(maxsize=256)
def supported_locale(locale: str) -> str:
    """The locale tag Babel knows, or 'en' for one it does not."""
    try:
        babel_locale(locale)
    except (UnknownLocaleError, ValueError):
        return "en"
    return locale


@lru_cache(maxsize=512)
def compile_source(source: str) -> Template:
    """Compile once per distinct source (shipped or saved)."""
    return _ENV.from_string(source)


def locale_tags(locale: str) -> list[str]:
    """The tags a template is looked up by, most specific first: the locale, its language."""
    return list(dict.fromkeys((locale, locale.split("-")[0])))


def shipped_source(template_key: str, channel: str, locale: str) -> str | None:
    """The shipped template for the key and channel, in the locale or its language."""
    for tag in locale_tags(locale):
        path = DEFAULTS_DIR / tag / f"{template_key}.{channel}.j2"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def shipped_locales() -> list[str]:
    """Languages with shipped templates."""
    return sorted(p.name for p in DEFAULTS_DIR.iterdir() if p.is_dir())


def render(template: Template, channel: str, data: Mapping[str, Any], *, locale: str) -> Rendered:
    """Render every block of the channel; raises TemplateError (MissingData included)."""
    context = template.new_context({**data, "locale": supported_locale(locale)})
    parts: dict[str, str] = {}
    for block in BLOCKS[channel]:
        render_block = template.blocks.get(block)
        if render_block is None:
            raise TemplateError(f"the {channel} template has no '{block}' block")
        out = "".join(render_block(context)).strip()
        # Autoescaping protects the HTML part; every other part is plain text.
        parts[block] = out if block == "html" else html.unescape(out)
    return Rendered(parts)


def check(source: str, channel: str, samples: list[Mapping[str, Any]], *, locale: str) -> None:
    """Compile and render against sample data; raises TemplateError when it would fail."""
    template = _ENV.from_string(source)
    for data in samples:
        render(template, channel, data, locale=locale)
