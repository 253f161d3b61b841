"""aiosmtplib's DATA preparation without its per-line regular expressions, and its address
parsing done once per address.

Before sending a message aiosmtplib turns every line ending into CRLF and doubles a period
that starts a line, with `re.sub` (twice for the line endings when the server announces
SIZE). Each line is a match and a replacement: ~2.5 ms of CPU for an e-mail carrying a
statement PDF (hundreds of base64 lines), more than building and sending it. `install()`
puts in replacements with the same results made of `bytes.count` and `bytes.replace` passes,
if aiosmtplib still uses exactly the patterns they replace (else it leaves it as it is).

aiosmtplib also parses the sender and the recipient twice each per message with
`email.utils.parseaddr` (~0.2 ms of CPU per e-mail); the parse is a pure function of the
address, so it is remembered (a bounded cache: the sender every time, a recipient once).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import aiosmtplib.email
import aiosmtplib.protocol
import aiosmtplib.smtp

log = logging.getLogger(__name__)

ADDRESSES_KEPT = 4096
LINE_ENDINGS = rb"(?:\r\n|\n|\r(?!\n))"
LEADING_PERIOD = rb"(?m)^\."


class LineEndings:
    """`re.compile(LINE_ENDINGS).sub(b"\\r\\n", data)`: every CRLF, LF and lone CR as CRLF."""

    pattern = LINE_ENDINGS

    def sub(self, replacement: bytes, data: bytes) -> bytes:
        if replacement != b"\r\n":
            return re.sub(self.pattern, replacement, data)
        crlf = data.count(b"\r\n")
        if data.count(b"\r") == crlf and data.count(b"\n") == crlf:
            return data  # CRLF only already (as channels.mime writes)
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


class LeadingPeriods:
    """`re.compile(LEADING_PERIOD).sub(b"..", data)`: a period starting a line doubled."""

    pattern = LEADING_PERIOD

    def sub(self, replacement: bytes, data: bytes) -> bytes:
        if replacement != b"..":
            return re.sub(self.pattern, replacement, data)
        data = data.replace(b"\n.", b"\n..")
        return b"." + data if data.startswith(b".") else data


parse_address = lru_cache(maxsize=ADDRESSES_KEPT)(aiosmtplib.email.parse_address)
"""aiosmtplib's `parse_address`, remembered (it raises ValueError for an unsafe address, which
is not remembered)."""


def quote_address(address: str) -> str:
    """aiosmtplib's `quote_address` on the remembered parse."""
    return f"<{parse_address(address)}>"


def install() -> None:
    """Use the replacements in aiosmtplib (idempotent)."""
    smtp = aiosmtplib.smtp
    if (
        getattr(smtp, "parse_address", None) is aiosmtplib.email.parse_address
        and getattr(smtp, "quote_address", None) is aiosmtplib.email.quote_address
    ):
        smtp.parse_address = parse_address  # type: ignore[attr-defined]
        smtp.quote_address = quote_address  # type: ignore[attr-defined]
    protocol = aiosmtplib.protocol
    found = (
        getattr(protocol, "LINE_ENDINGS_REGEX", None),
        getattr(protocol, "PERIOD_REGEX", None),
    )
    if any(isinstance(item, LineEndings | LeadingPeriods) for item in found):
        return
    expected = (LINE_ENDINGS, LEADING_PERIOD)
    if [getattr(item, "pattern", None) for item in found] != list(expected):
        log.info("aiosmtplib prepares DATA differently now; its own code is used")
        return
    protocol.LINE_ENDINGS_REGEX = LineEndings()  # type: ignore[assignment]
    protocol.PERIOD_REGEX = LeadingPeriods()  # type: ignore[assignment]
