"""Provider callbacks: SMS and call status (Twilio-signed), e-mail events (HMAC-signed)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from dunlin_platform.http.problems import BadRequestError, ForbiddenError
from notifications import metrics
from notifications.api.deps import RuntimeDep, SettingsDep
from notifications.handlers.callbacks import TWILIO_VERDICTS, Verdict, provider_verdict
from notifications.signing import fresh_timestamp, valid_body_signature, valid_twilio_signature

router = APIRouter(prefix="/callbacks", tags=["callbacks"])


async def _apply(
    runtime: RuntimeDep,
    *,
    channel: str,
    provider: str,
    message_id: str,
    verdict: Verdict,
    detail: str,
) -> Response:
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session, session.begin():
        known, events = await provider_verdict(
            session=session,
            provider=provider,
            message_id=message_id,
            verdict=verdict,
            detail=detail,
            now=now,
        )
        await runtime.outbox.add(session, *events, occurred_at=now)
    metrics.callbacks.add(1, {"channel": channel, "outcome": "accepted" if known else "unknown"})
    if events and verdict != "pending":
        metrics.delivery_outcomes.add(1, {"channel": channel, "status": verdict})
    # Unknown ids get 204 too: the provider would only retry a message we never sent.
    return Response(status_code=204)


async def _twilio(
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    *,
    channel: Literal["sms", "voice"],
) -> Response:
    # Parsed by hand: the form is tiny and python-multipart is not a dependency.
    form = dict(parse_qsl((await request.body()).decode()))
    url = f"{settings.public_base_url.rstrip('/')}/callbacks/{channel}"
    token = settings.sms_auth_token.get_secret_value()
    if not valid_twilio_signature(token, url, form, request.headers.get("X-Twilio-Signature")):
        metrics.callbacks.add(1, {"channel": channel, "outcome": "bad_signature"})
        raise ForbiddenError("The X-Twilio-Signature does not match.")
    sid = form.get("MessageSid") or form.get("CallSid")
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    if not sid:
        raise BadRequestError("MessageSid or CallSid is required.")
    verdict: Verdict = TWILIO_VERDICTS.get(status, "pending")
    provider = "twilio-sms" if channel == "sms" else "twilio-voice"
    detail = f"{channel} {status} (error {form.get('ErrorCode', '-')})"
    return await _apply(
        runtime, channel=channel, provider=provider, message_id=sid, verdict=verdict, detail=detail
    )


@router.post("/sms", status_code=204, response_class=Response)
async def sms_status(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    """Twilio-style SMS status callback (form fields, X-Twilio-Signature)."""
    return await _twilio(request, runtime, settings, channel="sms")


@router.post("/voice", status_code=204, response_class=Response)
async def voice_status(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    """Twilio-style call status callback (form fields, X-Twilio-Signature)."""
    return await _twilio(request, runtime, settings, channel="voice")


async def _signed_json(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, *, secret: str, channel: str
) -> bytes:
    """The body, once its signature matches and its signed timestamp is recent (no replays)."""
    body = await request.body()
    timestamp, signature = (
        request.headers.get("X-Dunlin-Timestamp"),
        request.headers.get("X-Dunlin-Signature"),
    )
    if not valid_body_signature(secret, timestamp, body, signature):
        metrics.callbacks.add(1, {"channel": channel, "outcome": "bad_signature"})
        raise ForbiddenError("The X-Dunlin-Signature does not match.")
    assert timestamp is not None  # a valid signature has one
    tolerance = dt.timedelta(seconds=settings.callback_tolerance_s)
    if not fresh_timestamp(timestamp, now=runtime.clock.now(), tolerance=tolerance):
        metrics.callbacks.add(1, {"channel": channel, "outcome": "stale"})
        raise ForbiddenError(
            "The X-Dunlin-Timestamp is not Unix seconds within"
            f" {settings.callback_tolerance_s:g} s of our clock: a replay, or a clock to fix."
        )
    return body


# Print-and-mail statuses: the letter reached the addressee, or came back.
PRINT_VERDICTS: dict[str, Verdict] = {"delivered": "delivered", "returned": "bounced"}


@router.post("/print", status_code=204, response_class=Response)
async def print_status(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    """Letter status from the print-and-mail provider: `{"id", "status": "printed|mailed|
    delivered|returned", "reason"?}`, signed with X-Dunlin-Signature (PRINT_WEBHOOK_SECRET).
    A returned letter fails the channel and moves on to the request's next channel."""
    secret = settings.print_webhook_secret.get_secret_value()
    body = await _signed_json(request, runtime, settings, secret=secret, channel="letter")
    try:
        event = json.loads(body)
        letter_id, status = str(event["id"]), str(event["status"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequestError("Expected JSON with id and status.") from exc
    return await _apply(
        runtime,
        channel="letter",
        provider="print-api",
        message_id=letter_id,
        verdict=PRINT_VERDICTS.get(status, "pending"),
        detail=f"letter {status}: {str(event.get('reason', ''))[:200]}",
    )


@router.post("/email", status_code=204, response_class=Response)
async def email_event(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    """E-mail events (`delivered`, `bounced`) by Message-ID; signed with X-Dunlin-Signature."""
    secret = settings.email_webhook_secret.get_secret_value()
    body = await _signed_json(request, runtime, settings, secret=secret, channel="email")
    try:
        event = json.loads(body)
        message_id, kind = str(event["message_id"]), str(event["event"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequestError("Expected JSON with message_id and event.") from exc
    verdict: Verdict = {"delivered": "delivered", "bounced": "bounced"}.get(kind, "pending")  # type: ignore[assignment]
    detail = f"email {kind}: {str(event.get('reason', ''))[:200]}"
    return await _apply(
        runtime,
        channel="email",
        provider="smtp",
        message_id=message_id,
        verdict=verdict,
        detail=detail,
    )
