"""The PDF file structure: numbered objects, then the cross-reference data (PDF 1.5).

Streams (page contents, font programs, ToUnicode maps) are written as they are; every other
object (catalog, pages, fonts, descriptors, widths) goes into one compressed object stream,
and the cross-reference table is a compressed stream too. Those dictionaries are a fifth of
a statement as plain text, and it is mailed base64 to every recipient.
"""

from __future__ import annotations

import struct
import zlib

HEADER = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"


class PdfFile:
    """Objects numbered from 1 in the order they are reserved."""

    def __init__(self) -> None:
        self._streams: dict[int, bytes] = {}
        self._objects: dict[int, bytes] = {}
        self._next = 1

    def reserve(self) -> int:
        """A number for an object given later with `put`."""
        number, self._next = self._next, self._next + 1
        return number

    def put(self, number: int, body: str) -> None:
        """The (non-stream) object `number`: a dictionary, array ..."""
        self._objects[number] = body.encode("ascii")

    def add(self, body: str) -> int:
        """A new (non-stream) object; its number."""
        number = self.reserve()
        self.put(number, body)
        return number

    def stream(self, data: bytes, extra: str = "") -> int:
        """A new stream of `data`, compressed; its number."""
        return self.packed_stream(pack(data), extra)

    def packed_stream(self, packed: bytes, extra: str = "") -> int:
        """A new stream of data already zlib-compressed; its number."""
        number = self.reserve()
        self._streams[number] = _stream(packed, extra)
        return number

    def finish(self, *, root: int, info: int) -> bytes:
        """The file: header, streams, object stream, cross-reference stream."""
        out, at = [HEADER], len(HEADER)
        entries: dict[int, tuple[int, int, int]] = {0: (0, 0, 0xFFFF)}
        for number, body in self._streams.items():
            chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
            entries[number] = (1, at, 0)
            out.append(chunk)
            at += len(chunk)
        container = self.reserve()
        numbers = sorted(self._objects)
        index, bodies, offset = [], [], 0
        for position, number in enumerate(numbers):
            index.append(b"%d %d" % (number, offset))
            bodies.append(self._objects[number])
            offset += len(bodies[-1]) + 1
            entries[number] = (2, container, position)
        head = b" ".join(index) + b"\n"
        packed = pack(head + b"\n".join(bodies))
        extra = f"/Type /ObjStm /N {len(numbers)} /First {len(head)}"
        chunk = b"%d 0 obj\n%s\nendobj\n" % (container, _stream(packed, extra))
        entries[container] = (1, at, 0)
        out.append(chunk)
        at += len(chunk)
        xref = self.reserve()
        entries[xref] = (1, at, 0)
        table = b"".join(struct.pack(">BIH", *entries[n]) for n in range(self._next))
        extra = f"/Type /XRef /Size {self._next} /W [1 4 2] /Root {root} 0 R /Info {info} 0 R"
        chunk = b"%d 0 obj\n%s\nendobj\n" % (xref, _stream(pack(table), extra))
        out += [chunk, b"startxref\n%d\n%%%%EOF\n" % at]
        return b"".join(out)


def pack(data: bytes, level: int = 6) -> bytes:
    """zlib-compressed, with a window only as large as the data: zlib's default 32 kB window
    and hash tables are set up (~60 us) even for the few hundred bytes of a dictionary."""
    bits = max(10, min(15, len(data).bit_length()))
    packer = zlib.compressobj(level, zlib.DEFLATED, bits, max(1, bits - 7))
    return packer.compress(data) + packer.flush()


def _stream(packed: bytes, extra: str) -> bytes:
    head = f"<< /Length {len(packed)} /Filter /FlateDecode {extra}>>\nstream\n"
    return head.encode("ascii") + packed + b"\nendstream"
