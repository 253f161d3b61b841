"""`dunlin-dlq`: list, show, replay or discard dead letters; every action is audited."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dunlin_events.topics import dlq_topic
from dunlin_platform.deadletter import VALUE_OMITTED

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
DLQ_HEADER_PREFIX = "dlq_"
_READ_WITHIN_S = 60.0
_MAX_REPLAYED_BYTES = 16 * 1024 * 1024  # the broker's limits decide; the client sets none
_SCHEMA_DDL = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.dlq_actions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL CHECK (action IN ('replay', 'discard')),
        dlq_topic text NOT NULL,
        dlq_partition integer NOT NULL,
        dlq_offset bigint NOT NULL,
        source_topic text,
        ce_id text,
        ce_type text,
        reason text NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS dlq_actions_message
        ON ops.dlq_actions (dlq_topic, dlq_partition, dlq_offset)""",
)


@dataclass(frozen=True)
class Letter:
    """One dead letter, as read from its DLQ topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Letter:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers),
        )

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def source_topic(self) -> str:
        return self.header("dlq_source_topic") or self.topic.removesuffix(".dlq")

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original message's headers: everything but what the dead-lettering added."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    @property
    def value_omitted(self) -> bool:
        """The letter carries no copy of the message (too large): it is on its source topic."""
        return any(k == VALUE_OMITTED for k, _ in self.headers)

    @property
    def source(self) -> tuple[TopicPartition, int]:
        """Where the message was consumed from: its partition and offset."""
        partition, offset = self.header("dlq_source_partition"), self.header("dlq_source_offset")
        return TopicPartition(self.source_topic, int(partition)), int(offset)


async def migrate(engine: AsyncEngine) -> None:
    """Create the audit table (idempotent)."""
    async with engine.begin() as conn:
        for statement in _SCHEMA_DDL:
            await conn.execute(text(statement))


async def read_letters(bootstrap: str, topic: str) -> list[Letter]:
    """Every message on the DLQ topic, from the beginning up to the current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise LookupError(f"topic {topic!r} does not exist")
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        starts = await consumer.beginning_offsets(assigned)
        ends = await consumer.end_offsets(assigned)
        letters: list[Letter] = []
        waiting = {tp for tp in assigned if ends[tp] > starts[tp]}
        async with asyncio.timeout(_READ_WITHIN_S):
            await _read_until(consumer, waiting, ends, letters)
        return sorted(letters, key=lambda x: (x.partition, x.offset))
    finally:
        await consumer.stop()


async def _read_until(
    consumer: AIOKafkaConsumer,
    waiting: set[TopicPartition],
    ends: dict[TopicPartition, int],
    letters: list[Letter],
) -> None:
    while waiting:
        batch = await consumer.getmany(*waiting, timeout_ms=1000)
        for tp, records in batch.items():
            letters += [Letter.of(r) for r in records if r.offset < ends[tp]]
            if records and records[-1].offset >= ends[tp] - 1:
                waiting.discard(tp)


async def handled(conn: AsyncConnection, topic: str) -> dict[tuple[int, int], str]:
    """The last audited action per (partition, offset) of a DLQ topic."""
    rows = await conn.execute(
        text(
            "SELECT DISTINCT ON (dlq_partition, dlq_offset) dlq_partition, dlq_offset, action"
            " FROM ops.dlq_actions WHERE dlq_topic = :t"
            " ORDER BY dlq_partition, dlq_offset, id DESC"
        ),
        {"t": topic},
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def audit(
    conn: AsyncConnection, letter: Letter, *, actor: str, action: str, reason: str
) -> None:
    await conn.execute(
        text(
            "INSERT INTO ops.dlq_actions (actor, action, dlq_topic, dlq_partition, dlq_offset,"
            " source_topic, ce_id, ce_type, reason)"
            " VALUES (:actor, :action, :topic, :partition, :offset, :source, :ce_id, :ce_type,"
            " :reason)"
        ),
        {
            "actor": actor,
            "action": action,
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "source": letter.source_topic,
            "ce_id": letter.header("ce_id") or None,
            "ce_type": letter.header("ce_type") or None,
            "reason": reason,
        },
    )


async def replay(
    engine: AsyncEngine, bootstrap: str, letters: Sequence[Letter], *, actor: str, reason: str
) -> int:
    """Send each letter back to its source topic; the audit row commits only after the ack.

    A crash between the ack and the commit leaves a replay without its audit row; the
    consumers' inbox makes the possible second replay harmless.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        max_request_size=_MAX_REPLAYED_BYTES,
    )
    await producer.start()
    try:
        for letter in letters:
            key, value, headers = letter.key, letter.value, letter.replay_headers()
            if letter.value_omitted:
                key, value, headers = await source_message(bootstrap, letter)
            async with engine.begin() as conn:
                await audit(conn, letter, actor=actor, action="replay", reason=reason)
                await producer.send_and_wait(letter.source_topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    return len(letters)


async def source_message(
    bootstrap: str, letter: Letter
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """Key, value and headers of a letter's message, read from its source topic (for a
    letter sent without its value); LookupError once the topic no longer retains it."""
    tp, offset = letter.source
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=_MAX_REPLAYED_BYTES,
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        first, end = (
            (await consumer.beginning_offsets([tp]))[tp],
            (await consumer.end_offsets([tp]))[tp],
        )
        if not first <= offset < end:
            raise LookupError(
                f"{tp.topic} partition {tp.partition} no longer holds offset {offset}"
                f" (it holds {first} to {end - 1}): the message of this dead letter is gone"
            )
        consumer.seek(tp, offset)
        async with asyncio.timeout(_READ_WITHIN_S):
            while True:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    if record.offset == offset:
                        return record.key, record.value, list(record.headers)
                    if record.offset > offset:
                        raise LookupError(
                            f"{tp.topic} partition {tp.partition} has no offset {offset}"
                        )
    finally:
        await consumer.stop()


def _dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else dlq_topic(topic)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dunlin-dlq", description=__doc__)
    parser.add_argument("--database-url", help="audit database (default: $DATABASE_URL)")
    parser.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap (default: $KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--actor", help="who acts (default: $DUNLIN_ACTOR or the login name)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create the ops.dlq_actions audit table")
    listing = commands.add_parser("list", help="the dead letters of a topic with their errors")
    listing.add_argument("topic", help="source topic (or its .dlq)")
    listing.add_argument("--pending", action="store_true", help="only not yet replayed/discarded")
    show = commands.add_parser("show", help="one dead letter: headers, key and payload")
    replay_cmd = commands.add_parser("replay", help="send dead letters back to the source topic")
    discard = commands.add_parser("discard", help="mark dead letters as discarded, with a reason")
    for sub in (show, replay_cmd, discard):
        sub.add_argument("topic", help="source topic (or its .dlq)")
        sub.add_argument("--partition", type=int)
        sub.add_argument("--offset", type=int)
    for sub in (replay_cmd, discard):
        sub.add_argument("--all", action="store_true", help="every pending dead letter")
        sub.add_argument("--reason", required=sub is discard, default="")
    actions = commands.add_parser("history", help="the audited actions on a topic's DLQ")
    actions.add_argument("topic")
    return parser


def _settings(args: argparse.Namespace) -> tuple[str, str, str]:
    database_url = args.database_url or os.environ.get("DATABASE_URL", "")
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            database_url = "postgresql+asyncpg://" + database_url.removeprefix(prefix)
    bootstrap = args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    actor = args.actor or os.environ.get("DUNLIN_ACTOR") or getpass.getuser()
    return database_url, bootstrap, actor


def _line(letter: Letter, status: str) -> str:
    error = letter.header("dlq_error").replace("\n", " ")
    return (
        f"{letter.partition:>4} {letter.offset:>8}  {status:<9} {letter.header('ce_id'):<36}"
        f"  {letter.header('ce_type') or '-':<40} {letter.header('dlq_error_type')}: {error[:120]}"
    )


def _describe(letter: Letter) -> str:
    body: object
    try:
        body = json.loads(letter.value or b"")
    except ValueError:
        body = (letter.value or b"").decode(errors="replace")
    if letter.value_omitted:
        tp, offset = letter.source
        size = letter.header(VALUE_OMITTED)
        body = f"(not copied, {size} bytes: on {tp.topic} partition {tp.partition}@{offset})"
    return json.dumps(
        {
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "key": (letter.key or b"").decode(errors="replace"),
            "headers": {
                k: None if v is None else v.decode(errors="replace") for k, v in letter.headers
            },
            "value": body,
        },
        indent=2,
        ensure_ascii=False,
    )


async def run(argv: Sequence[str] | None = None) -> int:
    """Parse and carry out one command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    database_url, bootstrap, actor = _settings(args)
    if not database_url or (args.command not in {"migrate", "history"} and not bootstrap):
        print("dunlin-dlq: set DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return EXIT_USAGE
    engine = create_async_engine(database_url, pool_size=1)
    try:
        return await _command(args, engine, bootstrap, actor)
    except LookupError as exc:
        print(f"dunlin-dlq: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await engine.dispose()


async def _command(
    args: argparse.Namespace, engine: AsyncEngine, bootstrap: str, actor: str
) -> int:
    if args.command == "migrate":
        await migrate(engine)
        print("ops.dlq_actions is up to date")
        return EXIT_OK
    topic = _dlq_name(args.topic)
    if args.command == "history":
        return await _history(engine, topic)
    letters = await read_letters(bootstrap, topic)
    async with engine.connect() as conn:
        done = await handled(conn, topic)
    if args.command == "list":
        for letter in letters:
            status = done.get((letter.partition, letter.offset), "pending")
            if not (args.pending and status != "pending"):
                print(_line(letter, status))
        return EXIT_OK
    chosen = _choose(args, letters, done)
    if chosen is None:
        return EXIT_USAGE
    if not chosen and getattr(args, "all", False):
        print(f"nothing pending on {topic}")
        return EXIT_OK
    if not chosen:
        print("dunlin-dlq: no such dead letter", file=sys.stderr)
        return EXIT_ERROR
    if args.command == "show":
        print(_describe(chosen[0]))
    elif args.command == "replay":
        sent = await replay(engine, bootstrap, chosen, actor=actor, reason=args.reason)
        print(f"replayed {sent} message(s) from {topic}")
    else:
        async with engine.begin() as conn:
            for letter in chosen:
                await audit(conn, letter, actor=actor, action="discard", reason=args.reason)
        print(f"discarded {len(chosen)} message(s) from {topic}")
    return EXIT_OK


def _choose(
    args: argparse.Namespace, letters: list[Letter], done: dict[tuple[int, int], str]
) -> list[Letter] | None:
    if getattr(args, "all", False):
        return [x for x in letters if (x.partition, x.offset) not in done]
    if args.partition is None or args.offset is None:
        print("dunlin-dlq: give --partition and --offset (or --all)", file=sys.stderr)
        return None
    return [x for x in letters if (x.partition, x.offset) == (args.partition, args.offset)]


async def _history(engine: AsyncEngine, topic: str) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT at, actor, action, dlq_partition, dlq_offset, ce_id, reason"
                " FROM ops.dlq_actions WHERE dlq_topic = :t ORDER BY id"
            ),
            {"t": topic},
        )
        for at, who, action, partition, offset, ce_id, reason in rows:
            where = f"{partition}/{offset}"
            print(f"{at:%Y-%m-%d %H:%M:%S} {who:<12} {action:<8} {where:<10} {ce_id} {reason}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
