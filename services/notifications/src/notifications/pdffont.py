"""TrueType fonts in a PDF: text as glyph ids, and the font objects embedding the glyphs a
document printed (Type0, Identity-H, CIDToGIDMap /Identity, ToUnicode for extraction).

The objects for a set of characters are made once and kept (`embedding`): documents print
the same labels, digits and names again and again, so most reuse an earlier subset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TypeVar

from notifications.pdffile import pack
from notifications.ttf import TrueTypeFont

DIGITS = frozenset("0123456789")
"""Embedded whole when one is used: documents then share cached subsets more often."""
EMBEDDINGS_KEPT = 512
NO_BREAK_SPACE = "\u00a0"

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


class _Lookup(dict[_Key, _Value]):
    """A dict with a value for keys it does not have (characters the font lacks)."""

    def __init__(self, values: Mapping[_Key, _Value], missing: _Value) -> None:
        super().__init__(values)
        self._missing = missing

    def __missing__(self, key: _Key) -> _Value:
        return self._missing


@cache
def _lookups(font: TrueTypeFont) -> tuple[_Lookup[int, str], _Lookup[str, int]]:
    hexes = _Lookup({c: f"{g:04X}" for c, g in font.cmap.items()}, "")
    widths = _Lookup({chr(c): font.widths[g] for c, g in font.cmap.items()}, 0)
    return hexes, widths


def glyph_hex(font: TrueTypeFont, text: str) -> str:
    """`text` as 2-byte glyph ids in hex; characters the font lacks are left out (as fpdf2
    does: there is nothing to print them with)."""
    return text.translate(_lookups(font)[0])


def text_units(font: TrueTypeFont, text: str) -> int:
    """Advance width of `text` in 1/1000 em."""
    return sum(map(_lookups(font)[1].__getitem__, text))


@dataclass(frozen=True)
class Embedding:
    """The objects of one font subset, ready to write (object numbers filled in)."""

    name: str
    program: bytes
    """The subset font program, zlib-compressed."""
    length: int
    descriptor: str
    widths: str
    to_unicode: bytes
    """The ToUnicode CMap, zlib-compressed."""

    def write(self, add: Callable[[str], int], stream: Callable[[bytes, str], int]) -> int:
        """Writes the objects with `add(dict)` / `stream(packed, extra)`; the font's number."""
        file = stream(self.program, f"/Length1 {self.length}")
        descriptor = add(f"<< /Type /FontDescriptor {self.descriptor} /FontFile2 {file} 0 R >>")
        cid = add(
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{self.name}"
            " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
            f" /FontDescriptor {descriptor} 0 R {self.widths} /CIDToGIDMap /Identity >>"
        )
        to_unicode = stream(self.to_unicode, "")
        return add(
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{self.name} /Encoding /Identity-H"
            f" /DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>"
        )


def embedding_for(font: TrueTypeFont, texts: Iterable[str]) -> Embedding:
    """The embedding of the characters of `texts` (digits rounded up to all ten)."""
    written = set("".join(texts))
    if not DIGITS.isdisjoint(written):
        written |= DIGITS
    return embedding(font, frozenset(written))


@lru_cache(maxsize=EMBEDDINGS_KEPT)
def embedding(font: TrueTypeFont, chars: frozenset[str]) -> Embedding:
    """The font objects for exactly `chars` (those the font has)."""
    unicode: dict[int, str] = {}
    for char in sorted(chars):
        glyph = font.cmap.get(ord(char))
        if glyph is not None:
            # A no-break space (Babel puts one between amount and currency) reads back as
            # a space, so "1.190,00 €" is found and copied as typed.
            unicode.setdefault(glyph, " " if char == NO_BREAK_SPACE else char)
    glyphs = sorted(unicode)
    digest = hashlib.blake2s(f"{font.name}{glyphs}".encode(), digest_size=6).digest()
    name = "".join(chr(65 + b % 26) for b in digest) + "+" + font.name
    program, length = font.packed_subset(glyphs)
    m = font.metrics
    flags = 4 | (1 << 18 if m.bold else 0)  # symbolic (addressed by glyph id), force bold
    descriptor = (
        f"/FontName /{name} /Flags {flags} /FontBBox [{' '.join(map(str, m.bbox))}]"
        f" /ItalicAngle {m.italic_angle:g} /Ascent {m.ascent} /Descent {m.descent}"
        f" /CapHeight {m.cap_height} /StemV {120 if m.bold else 80}"
    )
    widths = " ".join(f"{g} [{font.widths[g]}]" for g in glyphs)
    return Embedding(
        name=name,
        program=program,
        length=length,
        descriptor=descriptor,
        widths=f"/DW {font.widths[0]} /W [{widths}]",
        to_unicode=pack(_to_unicode(unicode), 9),
    )


def _to_unicode(chars: Mapping[int, str]) -> bytes:
    entries = [
        f"<{glyph:04X}> <{char.encode('utf-16-be').hex().upper()}>"
        for glyph, char in sorted(chars.items())
    ]
    blocks = [
        f"{len(entries[at : at + 100])} beginbfchar\n"
        + "\n".join(entries[at : at + 100])
        + "\nendbfchar"
        for at in range(0, len(entries), 100)
    ]
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("ascii")
