"""`dunlin-apikey`: migrate the auth schema and create, list or revoke API keys."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from dunlin_platform.auth.keys import create_api_key, list_api_keys, revoke_api_key
from dunlin_platform.auth.migrate import migrate
from dunlin_platform.auth.models import ApiKeyRecord

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


MAX_EXPIRY_DAYS = 36_500  # a hundred years: further is "never", which is the default


def _expiry_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to {MAX_EXPIRY_DAYS} days (leave it out for a key that never expires)"
        )
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunlin-apikey", description=__doc__)
    parser.add_argument("--database-url", help="SQLAlchemy asyncpg URL (default: $DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the auth schema")
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--expires-in-days", type=_expiry_days, metavar="N")
    create.add_argument("--quiet", action="store_true", help="print only the key")
    commands.add_parser("list", help="list keys (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    return parser


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _table(records: Sequence[ApiKeyRecord]) -> str:
    now = datetime.now(UTC)
    header = ("ID", "NAME", "SCOPES", "CREATED", "LAST USED", "STATUS")
    rows = [header] + [
        (
            r.id,
            r.name,
            ",".join(r.scopes),
            _when(r.created_at),
            _when(r.last_used_at),
            r.status(now),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


async def _run(args: argparse.Namespace, database_url: str) -> int:
    if args.command == "migrate":
        await migrate(database_url)
        print("auth schema is up to date")
        return EXIT_OK
    engine = create_async_engine(database_url)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessionmaker() as session, session.begin():
            return await _command(args, session)
    finally:
        await engine.dispose()


async def _command(args: argparse.Namespace, session: AsyncSession) -> int:
    if args.command == "create":
        expires_at = None
        if args.expires_in_days is not None:
            expires_at = datetime.now(UTC) + timedelta(days=args.expires_in_days)
        record, plaintext = await create_api_key(
            session=session, name=args.name, scopes=args.scopes, expires_at=expires_at
        )
        if args.quiet:
            print(plaintext)
        else:
            scopes = ", ".join(record.scopes)
            print(f"Created API key {record.id} ({record.name}) with scopes {scopes}")
            print(plaintext)
            print("This key is shown only once; store it now.")
        return EXIT_OK
    if args.command == "list":
        print(_table(await list_api_keys(session=session)))
        return EXIT_OK
    revoked = await revoke_api_key(session=session, key_id=args.key_id)
    if revoked is None:
        print(f"dunlin-apikey: no API key with id {args.key_id!r}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Revoked API key {revoked.id} ({revoked.name}) at {_when(revoked.revoked_at)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not database_url:
        print("dunlin-apikey: set DATABASE_URL or pass --database-url", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args, database_url))
    except ValueError as exc:
        print(f"dunlin-apikey: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a CLI reports failures as a message and an exit code
        print(f"dunlin-apikey: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
