"""Embedded-font subsets made once and reused, instead of fontTools work in every PDF.

fpdf2 subsets every embedded TrueType font at output: it parses the font, keeps the glyphs
the document used, and compiles the result (about 30 ms per font, most of a letter's time).
Two things make that reusable:

1. Before output, the glyphs a document used are rounded up to whole runs (ASCII, Latin-1
   signs, Latin-1 letters, Latin Extended-A, punctuation, Greek, Cyrillic): every German
   letter then embeds the same subset, whatever names and amounts it prints. Characters
   outside those runs (€ and other currency signs ...) are kept one by one; a new set is
   subset once and cached like any other.
2. fpdf2's subsetting goes through `fpdf.output.ftsubset`; the stand-in installed here returns
   the cached subset (compiled bytes + new glyph ids) for the documents of this module
   (`DocumentFont`) and hands any other font to fontTools unchanged.

The embedded font is still a real subset of DejaVu Sans: text extraction, €, accents and
other scripts behave exactly as before; a document is a few kB larger (whole blocks).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import fpdf.output
from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools import ttLib
from fpdf.fonts import TTFFont
from fpdf.output import OutputProducer

# Runs of characters a used character pulls in (printable parts only, in the font or not).
BLOCKS: tuple[range, ...] = (
    range(0x20, 0x7F),  # ASCII
    range(0xA0, 0xC0),  # Latin-1 signs (also the no-break space Babel puts in amounts)
    range(0xC0, 0x100),  # Latin-1 letters (German, French, Spanish, Nordic ...)
    range(0x100, 0x180),  # Latin Extended-A (Polish, Czech, Turkish ...)
    range(0x370, 0x400),  # Greek
    range(0x400, 0x460),  # Cyrillic
    range(0x2010, 0x2028),  # dashes, quotes, bullet, ellipsis
    range(0x2030, 0x203B),  # per mille, primes, angle quotes
)
CACHE_SIZE = 64


@dataclass(frozen=True)
class Subset:
    """A compiled font subset and the glyph ids it gave the glyphs it kept."""

    data: bytes
    glyph_ids: dict[str, int]


class DocumentFont:
    """Stands in for a document's fontTools font: its subset is served from the cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.subset: Subset | None = None

    def __contains__(self, table: str) -> bool:
        return False  # fpdf2 only asks for CFF tables here; DejaVu is TrueType

    def getGlyphID(self, name: str) -> int:  # noqa: N802 - fontTools' name
        assert self.subset is not None, "subset before use"
        return self.subset.glyph_ids[name]

    def save(self, out: IO[bytes]) -> None:
        assert self.subset is not None, "subset before use"
        out.write(self.subset.data)

    def close(self) -> None:
        """Nothing open: the source bytes live in the cache."""


class _Cache:
    """Bounded LRU of subsets by (font file, glyph names); safe across render threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Path, frozenset[str]], Subset] = OrderedDict()
        self._sources: dict[Path, bytes] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, path: Path, glyphs: Sequence[str], options: Any) -> Subset:
        key = (path, frozenset(glyphs))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
            source = self._sources.get(path)
        if source is None:
            source = path.read_bytes()
        made = _make_subset(source, glyphs, options)
        with self._lock:
            self._sources[path] = source
            self._items[key] = made
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


def _make_subset(source: bytes, glyphs: Sequence[str], options: Any) -> Subset:
    font = ttLib.TTFont(BytesIO(source), recalcTimestamp=False)
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(glyphs=list(glyphs))
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    ids = {name: font.getGlyphID(name) for name in font.getGlyphOrder()}
    font.close()
    return Subset(out.getvalue(), ids)


CACHE = _Cache(CACHE_SIZE)


class _Subsetter:
    """fontTools' Subsetter for fpdf2: cached for DocumentFont, the real one otherwise."""

    def __init__(self, options: Any) -> None:
        self._options = options
        self._glyphs: list[str] = []
        self._populate: dict[str, Any] = {}

    def populate(self, glyphs: Iterable[str] = (), **kwargs: Any) -> None:
        self._glyphs = list(glyphs)
        self._populate = kwargs

    def subset(self, font: Any) -> None:
        if isinstance(font, DocumentFont):
            font.subset = CACHE.get(font.path, self._glyphs, self._options)
            return
        real = ftsubset.Subsetter(self._options)
        real.populate(glyphs=self._glyphs, **self._populate)
        real.subset(font)


class _SubsetModule:
    """What fpdf2's output module uses of `fontTools.subset`."""

    Options = ftsubset.Options
    Subsetter = _Subsetter


def install() -> None:
    """Route fpdf2's subsetting through the cache (idempotent; other fonts unaffected)."""
    fpdf.output.ftsubset = _SubsetModule  # type: ignore[attr-defined]


def round_up_to_blocks(font: TTFFont) -> None:
    """Add every character of each block the document used (present in the font)."""
    used = {
        code
        for glyph, _ in font.subset.items()
        if glyph is not None and isinstance(glyph.unicode, tuple)
        for code in glyph.unicode
    }
    for block in BLOCKS:
        if any(code in block for code in used):
            for code in block:
                if code in font.cmap:
                    font.subset.pick(code)


class CachedSubsetOutput(OutputProducer):
    """fpdf2's producer, with the fonts' glyphs rounded up to blocks before subsetting."""

    def _add_fonts(self, *args: Any, **kwargs: Any) -> Any:
        for font in self.fpdf.fonts.values():
            if isinstance(font, TTFFont) and isinstance(font.ttfont, DocumentFont):
                round_up_to_blocks(font)
        return super()._add_fonts(*args, **kwargs)


install()
