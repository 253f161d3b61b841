"""E-mail over SMTP with a small pool of reused connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from notifications.channels import mime, smtpdata
from notifications.channels.base import (
    Outgoing,
    PermanentFailure,
    Receipt,
    TransientFailure,
    UnconfirmedFailure,
)
from notifications.config import NotificationsSettings

NOTIFICATION_HEADER = "X-Dunlin-Notification"
# Errors without an SMTP reply: after DATA they leave open whether the server took the message.
# (aiosmtplib's SMTPServerDisconnected is a ConnectionError, its SMTPTimeoutError a TimeoutError.)
_UNANSWERED = (OSError, TimeoutError)


def build_email(message: Outgoing, *, sender: str, message_id: str, date: str) -> bytes:
    """A multipart/alternative text + HTML e-mail with the attachments and reply-to.

    `sender` is the From header value as made by `mime.address`.
    """
    request, rendered = message.request, message.rendered
    assert rendered is not None
    assert request.recipient.email is not None
    headers = [
        ("From", sender),
        ("To", mime.mailbox(request.recipient.name, request.recipient.email)),
        ("Subject", mime.header_text(rendered["subject"], "Subject")),
        ("Date", date),
        ("Message-ID", message_id),
        (
            "X-Dunlin-Notification",
            mime.header_text(request.notification_id, "X-Dunlin-Notification"),
        ),
    ]
    if request.reply_to:
        headers.append(("Reply-To", mime.address(request.reply_to)))
    return mime.build(
        headers=headers,
        text=rendered["text"],
        html=rendered["html"],
        attachments=message.attachments,
    )


class _SMTP(aiosmtplib.SMTP):
    """Remembers whether the current send got as far as DATA (the message may have left)."""

    data_started = False

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_started = True
        return await super().data(*args, **kwargs)


class SmtpPool:
    """Up to `size` open SMTP connections, each used by one send at a time."""

    def __init__(self, settings: NotificationsSettings) -> None:
        smtpdata.install()
        self._settings = settings
        self._idle: asyncio.LifoQueue[_SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(settings.smtp_pool_size)

    async def _connect(self) -> _SMTP:
        s = self._settings
        client = _SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_use_tls,
            start_tls=s.smtp_starttls,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )
        await client.connect()
        return client

    async def send(self, sender: str, recipients: Sequence[str], mail: bytes) -> None:
        """Send on an idle connection (or a new one); a broken connection is dropped.

        Raises UnconfirmedFailure when the connection broke after DATA began without the
        server's answer: the message may have been accepted.
        """
        async with self._slots:
            client = self._idle.get_nowait() if not self._idle.empty() else None
            if client is None or not client.is_connected:
                client = await self._connect()
            client.data_started = False
            try:
                await client.sendmail(sender, recipients, mail)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    client.close()
                if client.data_started and isinstance(exc, _UNANSWERED):
                    raise UnconfirmedFailure(f"no answer to DATA: {type(exc).__name__}") from exc
                raise
            self._idle.put_nowait(client)

    async def close(self) -> None:
        """Say QUIT on every idle connection."""
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await client.quit()


class EmailAdapter:
    """SMTP has no idempotency key: an interrupted send is reviewed, never resent blindly."""

    provider = "smtp"
    idempotent = False

    def __init__(self, settings: NotificationsSettings) -> None:
        self._sender = mime.address(settings.email_from)
        self._envelope_from = parseaddr(settings.email_from)[1]
        self._pool = SmtpPool(settings)

    async def send(self, message: Outgoing) -> Receipt:
        message_id = make_msgid(idstring=message.idempotency_key, domain="dunlin")
        date = formatdate(usegmt=True)
        mail = build_email(message, sender=self._sender, message_id=message_id, date=date)
        recipient = message.request.recipient.email
        assert recipient is not None
        try:
            await self._pool.send(self._envelope_from, [recipient], mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            if all(code >= 500 for code in codes):
                raise PermanentFailure("bounced", f"recipient refused ({codes[0]})") from exc
            raise TransientFailure(f"recipient deferred ({codes[0]})") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentFailure("rejected", f"SMTP {exc.code}") from exc
            raise TransientFailure(f"SMTP {exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientFailure(f"SMTP unavailable: {type(exc).__name__}") from exc
        return Receipt(provider=self.provider, message_id=message_id)

    async def close(self) -> None:
        await self._pool.close()
