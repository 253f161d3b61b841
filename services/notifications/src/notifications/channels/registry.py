"""Which adapter serves which channel, from the settings."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import httpx

from dunlin_platform.clock import Clock
from notifications.channels.agency import AgencyAdapter
from notifications.channels.base import ChannelAdapter
from notifications.channels.email import EmailAdapter
from notifications.channels.letter import LocalFolderAdapter, PrintApiAdapter
from notifications.channels.twilio import SmsAdapter, VoiceAdapter
from notifications.config import NotificationsSettings


def build_adapters(
    settings: NotificationsSettings, *, clock: Clock
) -> tuple[dict[str, ChannelAdapter], Callable[[], Awaitable[None]]]:
    """Adapters for every configured channel, and how to close them (no connection yet)."""
    client = httpx.AsyncClient(
        timeout=settings.provider_timeout_s,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )
    adapters: dict[str, ChannelAdapter] = {"email": EmailAdapter(settings)}
    if settings.sms_api_url:
        adapters["sms"] = SmsAdapter(settings, client, api_url=settings.sms_api_url)
    if settings.voice_api_url:
        adapters["voice"] = VoiceAdapter(settings, client, api_url=settings.voice_api_url)
    if settings.print_api_url:
        adapters["letter"] = PrintApiAdapter(settings, client)
    else:
        adapters["letter"] = LocalFolderAdapter(settings.letters_dir)
    if settings.agency_api_url:
        adapters["agency"] = AgencyAdapter(settings, client, clock=clock)

    async def close() -> None:
        for adapter in adapters.values():
            with contextlib.suppress(Exception):
                await adapter.close()
        await client.aclose()

    return adapters, close
