"""Signatures on provider callbacks and on what we post: Twilio style and HMAC-SHA256."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by the sorted form fields."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_twilio_signature(
    token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Constant-time check of a Twilio-style signature."""
    if not signature:
        return False
    return hmac.compare_digest(twilio_signature(token, url, params), signature)


def body_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of `<timestamp>.<body>`: binds the body to when it was signed."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def valid_body_signature(
    secret: str, timestamp: str | None, body: bytes, signature: str | None
) -> bool:
    """Constant-time check of a body signature."""
    if not signature or not timestamp:
        return False
    return hmac.compare_digest(body_signature(secret, timestamp, body), signature)


# Unix seconds have 10 digits until the year 2286; more would only be an attempt at overflow.
_MAX_TIMESTAMP_DIGITS = 12


def fresh_timestamp(timestamp: str, *, now: dt.datetime, tolerance: dt.timedelta) -> bool:
    """Whether a signed timestamp (Unix seconds) is within `tolerance` of `now`, either way.

    Checked after the signature: a captured, validly signed callback cannot be replayed once
    the window has passed (a little clock skew between the provider and us is allowed)."""
    digits = timestamp.isascii() and timestamp.isdigit()
    if not digits or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    return abs(int(timestamp) - now.timestamp()) <= tolerance.total_seconds()
