"""The e-mail as MIME bytes, written directly.

The standard library's EmailMessage (policy=default) parses and refolds every header it is
given and again when flattening: about 3 ms of CPU per e-mail, more than everything else the
e-mail path does together. The structure here is fixed and small, so it is written out:

    multipart/mixed                    (only when there are attachments)
      multipart/alternative
        text/plain; charset=utf-8      quoted-printable
        text/html; charset=utf-8       quoted-printable
      application/pdf ...              base64, one part per attachment

Everything is 7-bit (RFC 2047 encoded-words in headers, QP/base64 bodies), so no SMTP
extension is needed; any standard parser reads it (the tests parse what the sink received).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Sequence
from email.utils import encode_rfc2231, getaddresses

from notifications.channels.base import Attachment

CRLF = "\r\n"


def _clean(value: str) -> str:
    """No header injection: line breaks in a value become spaces."""
    return " ".join(value.splitlines()) if ("\n" in value or "\r" in value) else value


def encoded_words(value: str) -> str:
    """RFC 2047 base64 encoded-words, each within 75 characters, folded onto lines."""
    words: list[str] = []
    chunk = ""
    for char in value:
        # 45 bytes of UTF-8 make 60 base64 characters: "=?utf-8?b?" + 60 + "?=" = 72.
        if len((chunk + char).encode()) > 45:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return (CRLF + " ").join(
        f"=?utf-8?b?{base64.b64encode(word.encode()).decode('ascii')}?=" for word in words
    )


def header_text(value: str, name: str) -> str:
    """An unstructured header value (Subject ...): as is when short ASCII, else RFC 2047."""
    value = _clean(value)
    if value.isascii() and len(name) + len(value) < 76:
        return value
    return encoded_words(value)


_SPECIALS = frozenset('()<>[]:;@\\,."')


def address(value: str) -> str:
    """A mailbox header value ("Name <addr>"), with a non-ASCII name encoded."""
    [(name, addr)] = getaddresses([_clean(value)]) or [("", value)]
    return mailbox(name, addr)


def mailbox(name: str | None, addr: str) -> str:
    """ "Name <addr>" with the name quoted or encoded as needed."""
    name, addr = _clean(name or ""), _clean(addr)
    if not name:
        return addr
    if not name.isascii():
        return f"{encoded_words(name)} <{addr}>"
    if _SPECIALS.intersection(name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr}>'
    return f"{name} <{addr}>"


def _qp(text: str) -> str:
    """Quoted-printable with CRLF line breaks (the message is CRLF throughout)."""
    encoded = binascii.b2a_qp(text.encode(), quotetabs=False, istext=True).decode("ascii")
    return encoded.replace("\r\n", "\n").replace("\n", CRLF)


def base64_lines(content: bytes) -> str:
    """Base64 in lines of 76 characters (as `base64.encodebytes`, without its per-line loop)."""
    encoded = base64.b64encode(content).decode("ascii")
    if not encoded:
        return ""
    return CRLF.join([encoded[at : at + 76] for at in range(0, len(encoded), 76)]) + CRLF


def _filename(name: str) -> tuple[str, str]:
    """(parameter name, value) for a file name; RFC 2231 when it is not plain ASCII."""
    name = _clean(name)
    if name.isascii() and '"' not in name and "\\" not in name:
        return "filename", f'"{name}"'
    return "filename*", encode_rfc2231(name, "utf-8")


def _headers(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{name}: {value}" for name, value in pairs]


def build(
    *,
    headers: Sequence[tuple[str, str]],
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The message: `headers` (already encoded values) then the MIME structure above."""
    token = uuid.uuid4().hex
    alt = f"=_alt_{token}"  # "=_" never occurs in QP or base64 output
    lines = _headers(headers)
    lines.append("MIME-Version: 1.0")
    body: list[str] = [
        f"--{alt}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp(text),
        f"--{alt}",
        'Content-Type: text/html; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _qp(html),
        f"--{alt}--",
    ]
    if attachments:
        mixed = f"=_mixed_{token}"
        lines.append(f'Content-Type: multipart/mixed; boundary="{mixed}"')
        lines += ["", f"--{mixed}", f'Content-Type: multipart/alternative; boundary="{alt}"', ""]
        lines += body
        for item in attachments:
            param, value = _filename(item.filename)
            lines += [
                f"--{mixed}",
                f"Content-Type: {item.mime}",
                f"Content-Disposition: attachment; {param}={value}",
                "Content-Transfer-Encoding: base64",
                "",
                base64_lines(item.content),
            ]
        lines.append(f"--{mixed}--")
    else:
        lines.append(f'Content-Type: multipart/alternative; boundary="{alt}"')
        lines.append("")
        lines += body
    lines.append("")
    return CRLF.join(lines).encode("ascii")
