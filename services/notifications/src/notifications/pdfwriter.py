"""A small PDF writer for the letter and statement layouts: A4 pages of text cells, rules
and wrapped paragraphs in embedded TrueType fonts.

fpdf2 spent ~12 ms on a one-page statement (its per-document machinery and font subsetting)
and embedded ~50 kB of font. Here a document is a list of content-stream operators; the
fonts are parsed once per process (`ttf`) and each document embeds a subset of exactly the
glyphs it prints, addressed by glyph id (Type0 font, Identity-H, CIDToGIDMap /Identity),
with a ToUnicode map so text can be copied and extracted. Positions follow fpdf2's: millimetres
from the top left, 1 mm cell padding, text baseline at half the cell height + 0.3 font size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from notifications.pdffile import PdfFile
from notifications.pdffont import embedding_for, glyph_hex, text_units
from notifications.ttf import TrueTypeFont

K = 72 / 25.4  # points per millimetre
PAGE_W, PAGE_H = 210.0, 297.0  # A4 in mm
CELL_PADDING = 1.0
LINE_WIDTH = 0.2
CELLS_KEPT = 4096


@lru_cache(maxsize=CELLS_KEPT)
def _cell_ops(
    font: TrueTypeFont | None,
    size: float,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    border: str,
    align: str,
) -> tuple[str, ...]:
    """The operators drawing a cell (kept: letterheads, labels and headings recur)."""
    ops = []
    for edge, at in (("T", y), ("B", y + h)):
        if edge in border:
            top = (PAGE_H - at) * K
            ops.append(f"{x * K:.2f} {top:.2f} m {(x + w) * K:.2f} {top:.2f} l S")
    if font is not None and text:
        if align in ("R", "C"):
            width = text_units(font, text) * size / 1000 / K
            dx = w - CELL_PADDING - width if align == "R" else (w - width) / 2
        else:
            dx = CELL_PADDING
        baseline = y + 0.5 * h + 0.3 * size / K
        show = f"<{glyph_hex(font, text)}> Tj"
        ops.append(f"BT {(x + dx) * K:.2f} {(PAGE_H - baseline) * K:.2f} Td {show} ET")
    return tuple(ops)


@dataclass
class _UsedFont:
    font: TrueTypeFont
    number: int
    texts: list[str] = field(default_factory=list)
    """What was written in the font (its glyphs are embedded, with ToUnicode)."""


class Document:
    """Pages of text in the given fonts (style -> font), laid out top-down like fpdf2."""

    def __init__(
        self,
        fonts: Mapping[str, TrueTypeFont],
        *,
        margin: float = 20.0,
        producer: str = "Dunlin",
    ) -> None:
        self._fonts = {style: _UsedFont(font, n) for n, (style, font) in enumerate(fonts.items())}
        self._producer = producer
        self.l_margin = self.r_margin = self.t_margin = margin
        self._break_at = PAGE_H - margin
        self._pages: list[list[str]] = []
        self._font: _UsedFont | None = None
        self._size = 10.0  # points
        self._page_font: tuple[int, float] | None = None
        self.x = self.y = margin
        self._last_h = 0.0

    # --- state ---------------------------------------------------------------------------

    def add_page(self) -> None:
        """A new page; the position goes to the top left margin."""
        self._pages.append([f"{LINE_WIDTH * K:.2f} w"])
        self._page_font = None
        self.x, self.y = self.l_margin, self.t_margin

    def set_font(self, style: str, size: float) -> None:
        """Select the font of `style` ("" or "B") at `size` points."""
        self._font, self._size = self._fonts[style], size

    @property
    def font_size(self) -> float:
        """The current font size in millimetres."""
        return self._size / K

    def text_width(self, text: str) -> float:
        """Width of `text` in the current font, in millimetres."""
        return text_units(self._used().font, text) * self._size / 1000 / K

    def ln(self, h: float | None = None) -> None:
        """Back to the left margin, down by `h` (default: the last cell's height)."""
        self.x = self.l_margin
        self.y += self._last_h if h is None else h

    # --- drawing -------------------------------------------------------------------------

    def cell(
        self,
        w: float,
        h: float,
        text: str = "",
        *,
        border: str = "",
        align: str = "L",
        newline: bool = False,
    ) -> None:
        """A cell `w` wide (0: to the right margin); then right of it, or the next line."""
        if self.y + h > self._break_at:
            x = self.x
            self.add_page()
            self.x = x
        if w == 0:
            w = PAGE_W - self.r_margin - self.x
        x, y = self.x, self.y
        font = None
        if text:
            used = self._used()
            used.texts.append(text)
            self._select_font(used)
            font = used.font
        self._pages[-1] += _cell_ops(font, self._size, x, y, w, h, text, border, align)
        self._last_h = h
        if newline:
            self.x, self.y = self.l_margin, y + h
        else:
            self.x = x + w

    def multi_cell(self, w: float, h: float, text: str, *, justify: bool = True) -> None:
        """`text` wrapped at spaces into lines `h` high (justified but the last of each
        paragraph); the position ends at the left margin below it."""
        if w == 0:
            w = PAGE_W - self.r_margin - self.x
        room = w - 2 * CELL_PADDING
        for paragraph in text.replace("\r", "").split("\n"):
            lines = self._wrap(paragraph, room)
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                if justify and not last and " " in line:
                    self._justified(w, h, line, room)
                else:
                    self.cell(w, h, line)
                self.x, self.y = self.l_margin, self.y + h
        self.x = self.l_margin

    def _wrap(self, paragraph: str, room: float) -> list[str]:
        lines: list[str] = []
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if self.text_width(candidate) <= room:
                line = candidate
                continue
            if line:
                lines.append(line)
            while self.text_width(word) > room and len(word) > 1:  # longer than a line
                cut = len(word) - 1
                while cut > 1 and self.text_width(word[:cut]) > room:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
        return lines

    def _justified(self, w: float, h: float, line: str, room: float) -> None:
        if self.y + h > self._break_at:
            self.add_page()
            self.x = self.l_margin
        words = line.split(" ")
        extra = (room - self.text_width(line)) / (len(words) - 1)
        shift = f"{-extra * K * 1000 / self._size:.2f}"
        space = self._glyphs(" ")
        parts = [f"<{self._glyphs(words[0])}"]
        for word in words[1:]:
            parts.append(f"{space}>{shift}<{self._glyphs(word)}")
        parts.append(">")
        self._show(
            self.x + CELL_PADDING,
            self.y + 0.5 * h + 0.3 * self.font_size,
            "".join(parts),
            array=True,
        )
        self._last_h = h

    def _used(self) -> _UsedFont:
        if self._font is None:
            raise ValueError("set_font before writing text")
        return self._font

    def _glyphs(self, text: str) -> str:
        """`text` as hex glyph ids, noting which glyph stands for which character."""
        used = self._used()
        used.texts.append(text)
        return glyph_hex(used.font, text)

    def _select_font(self, used: _UsedFont) -> None:
        if self._page_font != (used.number, self._size):
            self._pages[-1].append(f"BT /F{used.number} {self._size:.2f} Tf ET")
            self._page_font = (used.number, self._size)

    def _show(self, x: float, baseline: float, glyphs: str, *, array: bool = False) -> None:
        self._select_font(self._used())
        show = f"[{glyphs}] TJ" if array else f"<{glyphs}> Tj"
        self._pages[-1].append(f"BT {x * K:.2f} {(PAGE_H - baseline) * K:.2f} Td {show} ET")

    # --- output --------------------------------------------------------------------------

    def output(self) -> bytes:
        """The PDF file."""
        writer = PdfFile()
        catalog, pages, resources = writer.reserve(), writer.reserve(), writer.reserve()
        fonts = {}
        for used in self._fonts.values():
            if used.texts:
                embedded = embedding_for(used.font, used.texts)
                fonts[used.number] = embedded.write(writer.add, writer.packed_stream)
        kids = []
        for ops in self._pages:
            content = writer.stream("\n".join(ops).encode("ascii"))
            kids.append(
                writer.add(
                    f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {PAGE_W * K:.2f}"
                    f" {PAGE_H * K:.2f}] /Resources {resources} 0 R /Contents {content} 0 R >>"
                )
            )
        font_refs = " ".join(f"/F{n} {ref} 0 R" for n, ref in fonts.items())
        writer.put(resources, f"<< /Font << {font_refs} >> /ProcSet [/PDF /Text] >>")
        refs = " ".join(f"{kid} 0 R" for kid in kids)
        writer.put(pages, f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>")
        writer.put(catalog, f"<< /Type /Catalog /Pages {pages} 0 R >>")
        info = writer.add(f"<< /Producer ({self._producer}) >>")
        return writer.finish(root=catalog, info=info)
