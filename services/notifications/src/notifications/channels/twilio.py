"""SMS and automated calls through a Twilio-compatible REST API."""

from __future__ import annotations

from xml.sax.saxutils import escape

import httpx

from notifications.channels.base import Outgoing, PermanentFailure, Receipt
from notifications.channels.http import post
from notifications.config import NotificationsSettings

# Twilio's own header; a resend with the same token creates no second message.
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


class _TwilioAdapter:
    provider = "twilio"
    idempotent = True

    def __init__(
        self, settings: NotificationsSettings, client: httpx.AsyncClient, *, api_url: str
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._from = settings.sms_from
        self._auth = (settings.sms_account_sid, settings.sms_auth_token.get_secret_value())
        self._callback_base = settings.public_base_url.rstrip("/")
        self._client = client

    async def _create(self, resource: str, message: Outgoing, form: dict[str, str]) -> Receipt:
        phone = message.request.recipient.phone
        if phone is None:
            raise PermanentFailure("missing_address", "no phone number")
        body = await post(
            self._client,
            f"{self._api_url}/{resource}.json",
            what=self.provider,
            data={"To": phone, "From": self._from, **form},
            auth=self._auth,
            headers={IDEMPOTENCY_HEADER: message.idempotency_key},
        )
        sid = body.get("sid")
        return Receipt(provider=self.provider, message_id=str(sid) if sid else None)

    async def close(self) -> None:
        """The shared HTTP client is closed by its owner."""


class SmsAdapter(_TwilioAdapter):
    """Text messages; delivery status arrives on /callbacks/sms."""

    provider = "twilio-sms"

    async def send(self, message: Outgoing) -> Receipt:
        assert message.rendered is not None
        form = {
            "Body": message.rendered["text"],
            "StatusCallback": f"{self._callback_base}/callbacks/sms",
        }
        return await self._create("Messages", message, form)


class VoiceAdapter(_TwilioAdapter):
    """An automated reminder call reading the rendered text; status on /callbacks/voice."""

    provider = "twilio-voice"

    async def send(self, message: Outgoing) -> Receipt:
        assert message.rendered is not None
        language = message.request.locale
        say = escape(message.rendered["text"])
        form = {
            "Twiml": f'<Response><Say language="{language}">{say}</Say></Response>',
            "StatusCallback": f"{self._callback_base}/callbacks/voice",
        }
        return await self._create("Calls", message, form)
