"""Agency hand-off: the case file POSTed to the agency, signed, and acknowledged."""

from __future__ import annotations

import json

import httpx

from dunlin_platform.clock import Clock
from notifications.channels.base import Outgoing, PermanentFailure, Receipt, TransientFailure
from notifications.channels.http import post
from notifications.config import NotificationsSettings
from notifications.signing import body_signature


class AgencyAdapter:
    """The agency answers with its reference and `acknowledged: true`: that is delivery."""

    provider = "agency-api"
    idempotent = True

    def __init__(
        self, settings: NotificationsSettings, client: httpx.AsyncClient, *, clock: Clock
    ) -> None:
        self._clock = clock
        assert settings.agency_api_url is not None
        self._url = settings.agency_api_url.rstrip("/") + "/cases"
        self._secret = settings.agency_secret.get_secret_value()
        self._client = client

    async def send(self, message: Outgoing) -> Receipt:
        request = message.request
        if request.case_file is None:
            raise PermanentFailure("missing_address", "no case file for the agency")
        body = json.dumps(
            {
                "reference": message.delivery_id,
                "account_id": request.account_id,
                "case_id": request.case_id,
                "case_file": request.case_file.model_dump(mode="json"),
            }
        ).encode()
        timestamp = str(int(self._clock.now().timestamp()))
        answer = await post(
            self._client,
            self._url,
            what=self.provider,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.idempotency_key,
                "X-Dunlin-Timestamp": timestamp,
                "X-Dunlin-Signature": body_signature(self._secret, timestamp, body),
            },
        )
        if answer.get("acknowledged") is not True:
            raise TransientFailure("the agency did not acknowledge the case file")
        reference = answer.get("reference")
        return Receipt(
            provider=self.provider, message_id=str(reference) if reference else None, delivered=True
        )

    async def close(self) -> None:
        """The shared HTTP client is closed by its owner."""
