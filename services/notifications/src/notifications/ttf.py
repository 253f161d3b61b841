"""TrueType fonts read once per process, and per-document subsets made without fontTools.

A document embeds only the glyphs it prints. The subset keeps the font's glyph ids (the
glyphs a document does not use are left empty, as fontTools' `retain_gids` does), so a PDF
can address glyphs by their ids in the full font (CIDToGIDMap /Identity) and every table
but `glyf` and `loca` is the font's own, parsed and checksummed once. A subset is then a
slice-and-join of the glyph outlines the document uses, composite components included:
microseconds, where subsetting with fontTools takes tens of milliseconds per font.

The glyphs are embedded without their TrueType hinting instructions (and the font's hinting
programs), unless asked for: a third of DejaVu's outline bytes, and half of what a statement
e-mail carries, for pixel-fitting at small sizes on screen that PDF viewers mostly replace
with their own (print is unaffected). The outlines themselves are the font's.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Tables a PDF viewer needs from an embedded TrueType font (ISO 32000-1, 9.9): outlines and
# metrics. The character map is not needed: the PDF maps codes to glyph ids.
KEPT = (b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp")
HINTING = (b"cvt ", b"fpgm", b"prep")
"""Hinting programs, kept only when the glyphs keep their instructions (`hinted`)."""
_COMPOSITE_INSTRUCTIONS = 0x0100
_COMPOSITE_MORE = 0x0020
_COMPOSITE_WORDS = 0x0001
_COMPOSITE_SCALE = 0x0008
_COMPOSITE_XY_SCALE = 0x0040
_COMPOSITE_2X2 = 0x0080
_LITTLE_ENDIAN = sys.byteorder == "little"


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if _LITTLE_ENDIAN:
        words.byteswap()  # the font is big-endian
    return sum(words) & 0xFFFFFFFF


def _tables(data: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack_from(">H", data, 4)
    tables = {}
    for index in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
        tables[tag] = data[offset : offset + length]
    return tables


def _cmap(table: bytes) -> dict[int, int]:
    """Code point -> glyph id, from the Windows Unicode subtable (format 12, else 4)."""
    (count,) = struct.unpack_from(">H", table, 2)
    found: dict[tuple[int, int], int] = {}
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", table, 4 + 8 * index)
        found[(platform, encoding)] = offset
    mapping: dict[int, int] = {}
    if (3, 10) in found and struct.unpack_from(">H", table, found[(3, 10)])[0] == 12:
        offset = found[(3, 10)]
        (groups,) = struct.unpack_from(">I", table, offset + 12)
        for group in range(groups):
            start, end, glyph = struct.unpack_from(">III", table, offset + 16 + 12 * group)
            for code in range(start, end + 1):
                mapping[code] = glyph + code - start
        return mapping
    offset = found[(3, 1)]
    if struct.unpack_from(">H", table, offset)[0] != 4:
        raise ValueError("no Unicode character map (format 4 or 12)")
    segments = struct.unpack_from(">H", table, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", table, offset + 14)
    starts = struct.unpack_from(f">{segments}H", table, offset + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", table, offset + 16 + 4 * segments)
    range_at = offset + 16 + 6 * segments
    ranges = struct.unpack_from(f">{segments}H", table, range_at)
    for seg, (start, end, delta, rng) in enumerate(zip(starts, ends, deltas, ranges, strict=True)):
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if rng == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = range_at + 2 * seg + rng + 2 * (code - start)
                glyph = struct.unpack_from(">H", table, at)[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                mapping[code] = glyph
    return mapping


def _components(outline: bytes) -> tuple[list[int], int, int]:
    """The glyph ids a composite glyph is built from (none for a simple glyph), where its
    last component's flags are and where its components end."""
    if len(outline) < 10 or struct.unpack_from(">h", outline, 0)[0] >= 0:
        return [], 0, 0
    found, at = [], 10
    while True:
        flags_at = at
        flags, glyph = struct.unpack_from(">HH", outline, at)
        found.append(glyph)
        at += 4 + (4 if flags & _COMPOSITE_WORDS else 2)
        if flags & _COMPOSITE_SCALE:
            at += 2
        elif flags & _COMPOSITE_XY_SCALE:
            at += 4
        elif flags & _COMPOSITE_2X2:
            at += 8
        if not flags & _COMPOSITE_MORE:
            return found, flags_at, at


def _unhinted(outline: bytes) -> bytes:
    """The outline without its TrueType instructions (the same shape, drawn unhinted)."""
    if not outline:
        return outline
    contours = struct.unpack_from(">h", outline, 0)[0]
    if contours >= 0:
        at = 10 + 2 * contours
        (length,) = struct.unpack_from(">H", outline, at)
        return outline[:at] + b"\0\0" + outline[at + 2 + length :]
    _, flags_at, end = _components(outline)
    (flags,) = struct.unpack_from(">H", outline, flags_at)
    cleared = struct.pack(">H", flags & ~_COMPOSITE_INSTRUCTIONS)
    return outline[:flags_at] + cleared + outline[flags_at + 2 : end]


@dataclass(frozen=True)
class Metrics:
    """What a PDF font descriptor says about the font, in 1/1000 em."""

    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]
    italic_angle: float
    bold: bool


class TrueTypeFont:
    """One font file, parsed once: character map, advance widths, outlines, fixed tables."""

    def __init__(self, path: Path, *, hinted: bool = False) -> None:
        data = path.read_bytes()
        tables = _tables(data)
        self.name = path.stem
        head, hhea = tables[b"head"], tables[b"hhea"]
        self.units_per_em = struct.unpack_from(">H", head, 18)[0]
        glyph_count = struct.unpack_from(">H", tables[b"maxp"], 4)[0]
        long_loca = struct.unpack_from(">h", head, 50)[0] == 1
        loca = struct.unpack_from(f">{glyph_count + 1}{'I' if long_loca else 'H'}", tables[b"loca"])
        scale = 1 if long_loca else 2
        glyf = tables[b"glyf"]
        outlines = [glyf[scale * loca[g] : scale * loca[g + 1]] for g in range(glyph_count)]
        self.outlines = outlines if hinted else [_unhinted(o) for o in outlines]
        self.components = {g: _components(o)[0] for g, o in enumerate(self.outlines) if o}
        metrics_count = struct.unpack_from(">H", hhea, 34)[0]
        pairs = list(struct.iter_unpack(">Hh", tables[b"hmtx"][: 4 * metrics_count]))
        side = struct.unpack_from(
            f">{glyph_count - metrics_count}h", tables[b"hmtx"], 4 * metrics_count
        )
        pairs += [(pairs[-1][0], lsb) for lsb in side]
        self.advances = [advance for advance, _ in pairs]
        """Advance width of each glyph, in font units."""
        # Every glyph gets a full metric (numberOfHMetrics = glyph count), so a subset's
        # hmtx can carry just its glyphs' metrics.
        self._metrics = [struct.pack(">Hh", *pair) for pair in pairs]
        hhea = hhea[:34] + struct.pack(">H", glyph_count) + hhea[36:]
        tables[b"hhea"] = hhea
        self.cmap = _cmap(tables[b"cmap"])
        per_mille = 1000 / self.units_per_em
        self.widths = [round(a * per_mille) for a in self.advances]
        """Advance width of each glyph in 1/1000 em (PDF glyph space)."""
        x_min, y_min, x_max, y_max = struct.unpack_from(">4h", head, 36)
        cap = self.outlines[self.cmap.get(ord("H"), 0)]
        cap_height = struct.unpack_from(">h", cap, 8)[0] if cap else y_max
        italic = struct.unpack_from(">i", tables[b"post"], 4)[0] / 65536 if b"post" in tables else 0
        weight = struct.unpack_from(">H", tables[b"OS/2"], 4)[0] if b"OS/2" in tables else 400
        self.metrics = Metrics(
            ascent=round(struct.unpack_from(">h", hhea, 4)[0] * per_mille),
            descent=round(struct.unpack_from(">h", hhea, 6)[0] * per_mille),
            cap_height=round(cap_height * per_mille),
            bbox=(
                round(x_min * per_mille),
                round(y_min * per_mille),
                round(x_max * per_mille),
                round(y_max * per_mille),
            ),
            italic_angle=italic,
            bold=weight >= 600,
        )
        # head with long offsets for the new loca and a zero checksum adjustment, to be set
        # per subset.
        self._head = head[:8] + b"\0\0\0\0" + head[12:50] + b"\0\1" + head[52:]
        self._fixed = {
            tag: (tables[tag], _checksum(tables[tag]))
            for tag in (*KEPT, *(HINTING if hinted else ()))
            if tag in tables and tag not in (b"glyf", b"loca", b"head", b"hmtx")
        }
        self._tail = b"".join(data + b"\0" * (-len(data) % 4) for data, _ in self._fixed.values())
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._packed_tail = packer.compress(self._tail) + packer.flush(zlib.Z_FINISH)
        self._glyph_count = glyph_count

    def closure(self, glyphs: Iterable[int]) -> list[int]:
        """The glyphs, .notdef and every component they are built from, in id order."""
        todo, seen = [0, *glyphs], set()
        while todo:
            glyph = todo.pop()
            if glyph not in seen:
                seen.add(glyph)
                todo += self.components.get(glyph, ())
        return sorted(seen)

    def subset(self, glyphs: Iterable[int]) -> bytes:
        """A TrueType font program with only these glyphs' outlines (ids unchanged)."""
        return zlib.decompress(self.packed_subset(glyphs)[0])

    def packed_subset(self, glyphs: Iterable[int]) -> tuple[bytes, int]:
        """`subset(glyphs)` zlib-compressed (for a /FlateDecode stream), and its length."""
        # The file is the table directory, then head, hmtx, loca and glyf (made here), then
        # the fixed tables, compressed once: deflate output flushed to a byte boundary can be
        # followed by another deflate stream, so only the first part is compressed here.
        used = self.closure(glyphs)
        outlines = self.outlines
        loca = array("I")
        parts, at, previous = [], 0, 0
        for glyph in used:
            loca.extend([at] * (glyph + 1 - previous))  # empty glyphs up to this one
            outline = outlines[glyph]
            parts.append(outline)
            at += len(outline)
            if at % 4:
                parts.append(b"\0" * (-at % 4))
                at += -at % 4
            previous = glyph + 1
        loca.extend([at] * (self._glyph_count + 1 - previous))
        if _LITTLE_ENDIAN:
            loca.byteswap()
        made = {
            b"head": self._head,
            b"hmtx": self._hmtx_of(used),
            b"loca": loca.tobytes(),
            b"glyf": b"".join(parts),
        }
        tables = {tag: (data, _checksum(data)) for tag, data in made.items()}
        tables.update(self._fixed)
        start = _font_file(tables, order=(*made, *self._fixed))
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(start) + packer.flush(zlib.Z_SYNC_FLUSH)
        checksum = zlib.adler32(self._tail, zlib.adler32(start))
        stream = b"".join((b"\x78\x9c", packed, self._packed_tail, checksum.to_bytes(4, "big")))
        return stream, len(start) + len(self._tail)

    def _hmtx_of(self, used: Sequence[int]) -> bytes:
        """The metrics of the glyphs used, zeros for the others (they compress away)."""
        hmtx = bytearray(4 * self._glyph_count)
        for glyph in used:
            hmtx[4 * glyph : 4 * glyph + 4] = self._metrics[glyph]
        return bytes(hmtx)


def _font_file(tables: Mapping[bytes, tuple[bytes, int]], *, order: Sequence[bytes]) -> bytes:
    """The table directory and the first four tables in `order` (the rest, the same in every
    subset, are the font's `_tail`)."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    directory = [
        struct.pack(
            ">IHHHH", 0x00010000, count, 16 * power, power.bit_length() - 1, 16 * (count - power)
        )
    ]
    offsets, at = {}, 12 + 16 * count
    for tag in order:
        offsets[tag] = at
        at += len(tables[tag][0]) + (-len(tables[tag][0]) % 4)
    total = 0
    for tag in tags:
        data, checksum = tables[tag]
        directory.append(struct.pack(">4sIII", tag, checksum, offsets[tag], len(data)))
        total += checksum
    head = b"".join(directory)
    adjustment = (0xB1B0AFBA - (total + _checksum(head))) & 0xFFFFFFFF
    out = [head]
    for tag in order[:4]:
        data = tables[tag][0]
        if tag == b"head":
            data = data[:8] + struct.pack(">I", adjustment) + data[12:]
        out.append(data + b"\0" * (-len(data) % 4))
    return b"".join(out)
