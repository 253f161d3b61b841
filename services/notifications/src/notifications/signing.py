"""Signatures on provider callbacks and on what we post: Twilio style and HMAC-SHA256."""

from __future__ import annotations

import base64
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
