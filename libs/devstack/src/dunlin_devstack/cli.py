"""`dunlin-stack`: run the embedded platform (`up`), create topics, or open psql."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from dunlin_devstack import broker
from dunlin_devstack.stack import UpOptions, up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunlin-stack", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("up", help="start everything and run until Ctrl-C (default)")
    run.add_argument("--new-key", action="store_true", help="rotate the dev API key")
    run.add_argument("--follow", action="store_true", help="also print service logs here")
    run.add_argument("--pg-port", type=int, default=UpOptions.pg_port)
    run.add_argument("--broker-port", type=int, default=UpOptions.broker_port)
    run.add_argument("--ready-timeout", type=float, default=UpOptions.ready_timeout)
    topics = commands.add_parser("topics", help="create the platform topics on the broker")
    topics.add_argument("--bootstrap", default=None, help="default: $KAFKA_BOOTSTRAP_SERVERS")
    topics.add_argument("--partitions", type=int, default=6)
    psql = commands.add_parser("psql", help="open psql on the platform database")
    psql.add_argument("database", nargs="?", default="dunlin")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "topics":
        return _topics(args.bootstrap or broker.default_bootstrap(), args.partitions)
    if args.command == "psql":
        return _psql(args.database)
    options = UpOptions(
        new_key=getattr(args, "new_key", False),
        follow=getattr(args, "follow", False),
        pg_port=getattr(args, "pg_port", UpOptions.pg_port),
        broker_port=getattr(args, "broker_port", UpOptions.broker_port),
        ready_timeout=getattr(args, "ready_timeout", UpOptions.ready_timeout),
    )
    return asyncio.run(up(options))


def _topics(bootstrap: str, partitions: int) -> int:
    topics = broker.platform_topics()
    asyncio.run(broker.ensure_topics(bootstrap, topics, partitions=partitions))
    print(f"{len(topics)} topics ready on {bootstrap}")
    return 0


def _psql(database: str) -> int:
    from dunlin_devstack.databases import libpq_url, with_database
    from dunlin_devstack.postgres import EmbeddedPostgres

    if url := os.environ.get("DATABASE_URL"):
        return _run_psql(libpq_url(with_database(url, database)))
    server = EmbeddedPostgres(port=UpOptions.pg_port)
    server.start()
    try:
        return _run_psql(server.libpq_url(database))
    finally:
        server.stop()


def _run_psql(url: str) -> int:
    from dunlin_devstack.postgres import postgres_bin

    # psql owns Ctrl-C (it cancels the running query); the launcher must not die of it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call([str(postgres_bin("psql")), url])  # noqa: S603 - the wheel's psql
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
