"""The development API key: created once, kept in `.dunlin/dev-api-key`, reused while valid."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

AUTH_CLI = "dunlin_platform.auth.cli"


class ApiKeyError(RuntimeError):
    """The auth CLI failed; the message holds its output."""


async def _auth_cli(env: Mapping[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        AUTH_CLI,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        detail = (err or out).decode(errors="replace").strip()
        raise ApiKeyError(f"`python -m {AUTH_CLI} {' '.join(args)}` failed: {detail}")
    return out.decode().strip()


async def still_valid(database_url: str, key: str) -> bool:
    """Return whether `key` verifies against the database (a wiped database forgets it)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from dunlin_platform.auth.keys import verify_api_key

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn) as session:
            return await verify_api_key(session=session, presented=key) is not None
    except Exception:  # an unreadable key table means "make a new key"
        return False
    finally:
        await engine.dispose()


def read_key(key_file: Path) -> str | None:
    """Return the saved key, or None when there is none."""
    try:
        return key_file.read_text().strip() or None
    except FileNotFoundError:
        return None


def write_key(key_file: Path, key: str) -> None:
    """Save `key` readable only by its owner."""
    key_file.unlink(missing_ok=True)
    # 0600 from the first byte: the key is a credential.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")


async def dev_api_key(env: Mapping[str, str], key_file: Path, *, rotate: bool = False) -> str:
    """Migrate the auth schema and return the dev key, creating it when missing or invalid."""
    await _auth_cli(env, "migrate")
    saved = None if rotate else read_key(key_file)
    if saved is not None and await still_valid(env["DATABASE_URL"], saved):
        return saved
    key = await _auth_cli(env, "create", "--name", "dev", "--scope", "*", "--quiet")
    write_key(key_file, key)
    return key
