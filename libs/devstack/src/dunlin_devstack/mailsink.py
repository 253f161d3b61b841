"""A local SMTP sink (aiosmtpd): every e-mail kept as a .eml file and in memory."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


@dataclass
class MailSink:
    """Accepts every message, except to recipients containing `reject_marker` (550)."""

    folder: Path | None = None
    port: int = 0
    reject_marker: str = "bounce"
    keep_in_memory: bool = True
    messages: list[EmailMessage] = field(default_factory=list)
    received: int = 0
    _server: asyncio.Server | None = None
    _names: itertools.count[int] = field(default_factory=itertools.count)

    async def start(self) -> None:
        """Listen on HOST:port (0 picks a free port, read it back from `port`)."""
        from aiosmtpd.smtp import SMTP  # the sink's own dependency, loaded only when used

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="dunlin-mailsink"), host=HOST, port=self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and open sessions."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        """Refuse the marked recipients so tests and demos can see a hard bounce."""
        if self.reject_marker and self.reject_marker in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        raw: bytes = envelope.original_content or envelope.content
        self.received += 1
        if self.keep_in_memory:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        if self.folder is not None:
            name = f"{next(self._names):06d}-{self.received}.eml"
            await asyncio.to_thread(_write, self.folder / name, raw)
        return "250 Message accepted for delivery"

    def find(self, header: str, value: str) -> list[EmailMessage]:
        """Messages whose header equals the value."""
        return [m for m in self.messages if m.get(header) == value]


def _write(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
