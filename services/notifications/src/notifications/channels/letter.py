"""Letters: handed to a print-and-mail API when one is configured, else kept in a folder."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx

from notifications.channels.base import Outgoing, PermanentFailure, Receipt
from notifications.channels.http import post
from notifications.config import NotificationsSettings


class PrintApiAdapter:
    """POSTs the PDF and the address to a print-and-mail provider, with an idempotency key."""

    provider = "print-api"
    idempotent = True

    def __init__(self, settings: NotificationsSettings, client: httpx.AsyncClient) -> None:
        assert settings.print_api_url is not None
        self._url = settings.print_api_url.rstrip("/") + "/letters"
        self._key = settings.print_api_key.get_secret_value()
        self._client = client

    async def send(self, message: Outgoing) -> Receipt:
        address = message.request.recipient.postal_address
        if address is None or not message.attachments:
            raise PermanentFailure("missing_address", "no postal address")
        pdf = message.attachments[0]
        body = await post(
            self._client,
            self._url,
            what=self.provider,
            json={
                "reference": message.delivery_id,
                "recipient": {
                    "name": message.request.recipient.name,
                    "company": message.request.account_name,
                    **address.model_dump(mode="json"),
                },
                "document": base64.b64encode(pdf.content).decode(),
            },
            headers={
                "Authorization": f"Bearer {self._key}",
                "Idempotency-Key": message.idempotency_key,
            },
        )
        letter_id = body.get("id")
        return Receipt(provider=self.provider, message_id=str(letter_id) if letter_id else None)

    async def close(self) -> None:
        """The shared HTTP client is closed by its owner."""


class LocalFolderAdapter:
    """Writes the PDF into a folder (the embedded platform's 'post box'); rewriting is harmless."""

    provider = "local-folder"
    idempotent = True

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def send(self, message: Outgoing) -> Receipt:
        if not message.attachments:
            raise PermanentFailure("missing_address", "no letter to post")
        pdf = message.attachments[0]
        path = self._folder / pdf.filename
        await asyncio.to_thread(_write, path, pdf.content)
        return Receipt(provider=self.provider, message_id=pdf.filename)

    async def close(self) -> None:
        """Nothing to release."""


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(content)
    tmp.replace(path)
