"""Consumer pipeline: raw broker rate, database ceiling, Dunlin BatchConsumer, naive consumer."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import Column, DateTime, MetaData, String, Table, func, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from bench.corpus import PARTITIONS, produce, records
from bench.cpu import CpuMeter, CpuUse
from bench.infra import Infra, settle
from bench.profiling import Profiler
from bench.results import Result
from bench.stages import StageClock, per_event_us
from dunlin_events import Envelope, Event, KafkaRecord, decode
from dunlin_platform.config import ServiceSettings
from dunlin_platform.db import service_metadata
from dunlin_platform.inbox import claim_new
from dunlin_platform.runtime import ConsumerSpec, PlatformTables, ServiceRuntime
from dunlin_platform.testing import create_schema

SCHEMA = "bench_consumer"
DEADLINE_S = 120.0
DEFAULT_LANES = 1
"""Lanes of the reported c (and inserters of b). One, from the numbers in bench/README.md
(issue #2): with this benchmark's cheap handler the pipeline is bound by its one Python
thread, so more lanes did not raise c (they added ~4-6 us of Python CPU per event) while
each added inserter raised b; c/b was lower with 2 or 3 lanes than with 1."""
Row = dict[str, Any]


@dataclass(frozen=True)
class Options:
    """How much work each measurement does."""

    events: int
    naive_events: int
    batch_size: int
    profile: bool
    repeats: int = 3
    lanes: int = DEFAULT_LANES
    """Lanes of c and concurrent inserters of b; with more than one, the 1-lane pair is
    measured too, as reference rows without a target."""


def effect_table(metadata: MetaData, name: str) -> Table:
    """One row per applied event: the 'database effect' every variant writes."""
    return Table(
        name,
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("account_id", String(100), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def effect_row(envelope: Envelope[Event]) -> Row:
    """The effect of one event."""
    return {"event_id": envelope.id, "account_id": envelope.subject, "event_type": envelope.type}


class Progress:
    """Rate from the first unit of work done to the last, excluding start-up (group join)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._first: tuple[float, int] | None = None
        self._last: tuple[float, int] | None = None

    def mark(self, done: int) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, done)
        self._last = (now, done)

    @property
    def first(self) -> tuple[float, int] | None:
        return self._first

    @property
    def counted(self) -> int:
        """Events between the first and the last mark."""
        if self._first is None or self._last is None:
            return 0
        return self._last[1] - self._first[1]

    @property
    def rate(self) -> float:
        """Events/s between the first and the last mark (the first mark's events excluded)."""
        assert self._first is not None
        assert self._last is not None
        (t0, n0), (t1, n1) = self._first, self._last
        return (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")


def settings(infra: Infra, opts: Options, name: str) -> ServiceSettings:
    """Service settings pointing at this run's database and broker."""
    return ServiceSettings(
        service_name=name,
        db_schema=SCHEMA,
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap,
        consumer_batch_size=opts.batch_size,
        log_format="text",
    )


def new_consumer(infra: Infra, topic: str, batch_size: int) -> AIOKafkaConsumer:
    """A consumer configured like BatchConsumer's, in a fresh group, from offset 0."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_size,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


async def raw_consume(infra: Infra, topic: str, opts: Options) -> float:
    """(a) The broker alone: getmany until every record arrived, decoding nothing."""
    consumer = new_consumer(infra, topic, opts.batch_size)
    await consumer.start()
    progress, seen = Progress(opts.events), 0
    try:
        async with asyncio.timeout(DEADLINE_S):
            while seen < opts.events:
                batch = await consumer.getmany(timeout_ms=500, max_records=opts.batch_size)
                seen += sum(len(messages) for messages in batch.values())
                if batch:
                    progress.mark(seen)
    finally:
        await consumer.stop()
    return progress.rate


@dataclass(frozen=True)
class Run:
    """One repetition of a measurement: its rate and the CPU it used per event."""

    rate: float
    cpu: CpuUse
    stages: dict[str, float]
    per_transaction: float | None = None
    """Events per applied transaction (c only, when its stages could be timed)."""


def batch_shares(rows: Sequence[Row], batch_size: int, inserters: int) -> list[list[list[Row]]]:
    """The rows cut into consumer-sized batches, dealt round-robin to `inserters` shares.

    Round-robin, so that every inserter has about the same number of batches (the last one
    may be short) and all of them finish together, like lanes fed from one topic.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if inserters < 1:
        raise ValueError(f"a ceiling needs at least one inserter, got {inserters}")
    batches = [list(rows[at : at + batch_size]) for at in range(0, len(rows), batch_size)]
    return [batches[share::inserters] for share in range(inserters)]


async def _insert_share(runtime: ServiceRuntime, table: Table, share: Sequence[list[Row]]) -> None:
    """One inserter: its batches one after the other, one transaction each, on one session."""
    for batch in share:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(insert(table), batch)


async def _connected(engine: AsyncEngine, connections: int) -> None:
    """Open the pool's connections before the clock starts: c's start-up is excluded too."""
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(connections):
            await stack.enter_async_context(engine.connect())


async def database_ceiling(
    runtime: ServiceRuntime,
    table: Table,
    rows: Sequence[Row],
    batch_size: int,
    meter: CpuMeter,
    inserters: int = 1,
) -> Run:
    """(b) The same rows, multi-row inserts of one consumer batch per transaction, no Kafka.

    `inserters` connections insert their shares concurrently: the ceiling for a consumer
    with as many lanes (each lane is one transaction at a time on its own connection).
    """
    shares = batch_shares(rows, batch_size, inserters)
    await _connected(runtime.engine, inserters)
    before = await meter.sample()
    started = time.perf_counter()
    await asyncio.gather(*(_insert_share(runtime, table, share) for share in shares))
    rate = len(rows) / (time.perf_counter() - started)
    return Run(rate, CpuMeter.between(before, await meter.sample(), len(rows)), {})


async def dunlin_pipeline(
    runtime: ServiceRuntime, total: int, meter: CpuMeter, profiler: Profiler | None = None
) -> Run:
    """(c) BatchConsumer: decode + inbox + one multi-row effect insert per batch.

    Returns events/s, CPU per event and microseconds per event per stage, all from the first
    applied batch to the last.
    """
    [consumer] = runtime.consumers
    clock = StageClock()
    instrumented = clock.instrument(consumer)
    progress = Progress(total)
    seconds: dict[str, float] = {}
    batches = 0
    await runtime.start()
    try:
        async with asyncio.timeout(DEADLINE_S):
            while consumer.processed_total < total:
                if instrumented:
                    # Marked right after each applied batch: exact, and no polling, which
                    # cost ~1.5 % of a core (0.5 us per event) on the pipeline's thread.
                    await clock.next_batch()
                else:
                    await asyncio.sleep(0.002)
                done = consumer.processed_total
                if done and progress.first is None:
                    before = await meter.sample()
                    done = consumer.processed_total  # the events before the sample are not counted
                    clock.reset()
                    if profiler is not None:
                        profiler.start()
                if done:
                    progress.mark(done)
                    # Frozen at each mark: after the last one the loop only idles in getmany.
                    seconds, batches = dict(clock.seconds), clock.batches
        after = await meter.sample()
    finally:
        if profiler is not None:
            profiler.stop()
        await runtime.stop()
    # No "rest of 1/rate" row: the poller polls and decodes beside the lanes' transactions,
    # and lanes overlap each other, so the stages add up to more than 1/rate (it went
    # negative even with one lane).
    stages = per_event_us(seconds, progress.counted) if instrumented else {}
    per_transaction = progress.counted / batches if batches else None
    cpu = CpuMeter.between(before, after, progress.counted)
    return Run(progress.rate, cpu, stages, per_transaction)


async def naive_consume(
    infra: Infra, topic: str, runtime: ServiceRuntime, table: Table, opts: Options
) -> float:
    """(d) One transaction per event: decode, inbox insert, effect insert, commit."""
    consumer = new_consumer(infra, topic, opts.batch_size)
    await consumer.start()
    progress, done = Progress(opts.naive_events), 0
    inbox = runtime.tables.inbox
    try:
        async with asyncio.timeout(DEADLINE_S):
            while done < opts.naive_events:
                batch = await consumer.getmany(timeout_ms=500, max_records=opts.batch_size)
                for messages in batch.values():
                    for message in messages:
                        envelope = decode(
                            KafkaRecord(message.key or b"", message.value or b"", message.headers)
                        )
                        async with runtime.sessionmaker() as session, session.begin():
                            await claim_new(
                                session, table=inbox, consumer="naive", event_ids=[envelope.id]
                            )
                            await session.execute(insert(table), effect_row(envelope))
                        done += 1
                        progress.mark(done)
                # Offsets per poll, not per event: generous to the naive variant.
                await consumer.commit(
                    {tp: OffsetAndMetadata(m[-1].offset + 1, "") for tp, m in batch.items() if m}
                )
    finally:
        await consumer.stop()
    return progress.rate


def _handler(table: Table) -> Callable[[AsyncSession, Sequence[Envelope[Event]]], Awaitable[None]]:
    async def apply(session: AsyncSession, envelopes: Sequence[Envelope[Event]]) -> None:
        """The effect: one multi-row insert for the batch."""
        await session.execute(insert(table), [effect_row(e) for e in envelopes])

    return apply


def _row_of(record: KafkaRecord) -> Row:
    headers = dict(record.headers)
    return {
        "event_id": headers["ce_id"].decode(),
        "account_id": record.key.decode(),
        "event_type": headers["ce_type"].decode(),
    }


async def _empty(engine: AsyncEngine, *tables: Table) -> None:
    """Start a repetition from the same state as the first: empty effect and inbox tables."""
    names = ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names}"))


def _best(runs: Sequence[Run]) -> tuple[Run, str]:
    """The fastest repetition (the one least disturbed by the rest of the machine) and a note."""
    best = max(runs, key=lambda run: run.rate)
    rates = ", ".join(f"{run.rate:,.0f}" for run in runs)
    return best, f"best of {len(runs)} ({rates}/s)"


def _cpu_rows(label: str, run: Run) -> list[Result]:
    note = "CPU per event of the best repetition"
    rows = [Result(f"  {label}: python cpu", run.cpu.python_us, "us/event", note=note)]
    if run.cpu.postgres_us is not None:
        rows.append(Result(f"  {label}: postgres cpu", run.cpu.postgres_us, "us/event", note=note))
    if run.cpu.broker_us is not None:
        rows.append(Result(f"  {label}: broker cpu", run.cpu.broker_us, "us/event", note=note))
    return rows


def lanes_note(lanes: int) -> str:
    """How b and c ran, for the rows' notes."""
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    if lanes == 1:
        return "1 lane (1 inserter)"
    return f"{lanes} lanes ({lanes} concurrent inserters)"


def lane_counts(lanes: int) -> list[int]:
    """The lane counts to measure: the chosen one, then 1 as the reference when it differs."""
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    return [lanes] if lanes == 1 else [lanes, 1]


@dataclass(frozen=True)
class Pair:
    """b and c measured with the same number of lanes, each its best repetition."""

    lanes: int
    b: Run
    b_note: str
    c: Run
    c_note: str

    @property
    def ratio(self) -> float:
        return self.c.rate / self.b.rate


def _stage_rows(pair: Pair) -> list[Result]:
    note = "wall time inside BatchConsumer"
    if pair.lanes > 1:
        note += f"; transaction stages summed over {pair.lanes} concurrent lanes"
    return [
        Result(f"  c: {stage}", us, "us/event", note=note) for stage, us in pair.c.stages.items()
    ]


def _pair_rows(pair: Pair, reference: bool) -> list[Result]:
    """b, c and c/b of one lane count; a reference pair has no targets and a suffixed name."""
    suffix = f".{pair.lanes}_lane{'s' if pair.lanes > 1 else ''}" if reference else ""
    lanes = lanes_note(pair.lanes)
    if reference:
        lanes = f"reference, no target: {lanes}"
    rows = [
        Result(
            f"consumer.b_db_ceiling{suffix}",
            pair.b.rate,
            "events/s",
            note=f"{lanes}; multi-row insert per batch, no Kafka; {pair.b_note}",
        ),
        *_cpu_rows(f"b{suffix}", pair.b),
        Result(
            f"consumer.c_dunlin_pipeline{suffix}",
            pair.c.rate,
            "events/s",
            target=None if reference else 10_000,
            goal="info" if reference else "min",
            note=f"{lanes}; decode + inbox + effect insert, one transaction per batch; "
            f"{pair.c_note}",
        ),
        *_cpu_rows(f"c{suffix}", pair.c),
    ]
    if pair.c.per_transaction is not None:
        note = "applied batches of the best repetition (a lane takes what is queued)"
        rows.append(
            Result(
                f"  c{suffix}: events per transaction", pair.c.per_transaction, "events", note=note
            )
        )
    if not reference:
        rows += _stage_rows(pair)
    rows.append(
        Result(
            f"consumer.c_over_b{suffix}",
            pair.ratio,
            "x",
            target=None if reference else 0.5,
            goal="info" if reference else "min",
            note=lanes,
        )
    )
    return rows


async def run(infra: Infra, opts: Options) -> list[Result]:
    """All four measurements over one pre-produced topic, plus the ratios between them.

    b and c are repeated alternately (b, c, b, c, ...), each repetition from empty tables, and
    each reports its best repetition: one disturbed run decides neither figure. With
    `opts.lanes` > 1, c runs with that many lanes and b with that many concurrent inserters,
    and the 1-lane pair is measured the same way (interleaved) as a reference.
    """
    corpus = records(opts.events)
    topic = await infra.create_topic("consume", PARTITIONS)
    produced = await produce(infra.bootstrap, topic, corpus)

    metadata = service_metadata(SCHEMA)
    tables = PlatformTables.define(metadata)
    effects = effect_table(metadata, "effects")
    ceiling = effect_table(metadata, "ceiling_effects")
    naive = effect_table(metadata, "naive_effects")
    profiled = effect_table(metadata, "profiled_effects")

    def runtime(name: str, table: Table, lanes: int = 1) -> ServiceRuntime:
        spec = ConsumerSpec(name, [topic], _handler(table), lanes=lanes)
        return ServiceRuntime(
            settings(infra, opts, name), tables=tables, consumers=[spec], run_relay=False
        )

    base = runtime("ceiling", ceiling)  # never started: its engine inserts b's rows
    await create_schema(base.engine, metadata)
    # Its own connection, so that the backend reading /proc is never one being measured.
    meter_engine = create_async_engine(infra.database_url, pool_size=1, max_overflow=0)
    meter = CpuMeter(meter_engine)

    raw = await raw_consume(infra, topic, opts)
    rows = [_row_of(r) for r in corpus]
    counts = lane_counts(opts.lanes)
    b_runs: dict[int, list[Run]] = {lanes: [] for lanes in counts}
    c_runs: dict[int, list[Run]] = {lanes: [] for lanes in counts}
    try:
        for repetition in range(max(opts.repeats, 1)):
            for lanes in counts:
                # Each from rest (bench.infra.settle): no earlier run's checkpoint or
                # autovacuum falls into b's or c's measurement.
                await _empty(base.engine, ceiling)
                await settle(base.engine)
                b_runs[lanes].append(
                    await database_ceiling(base, ceiling, rows, opts.batch_size, meter, lanes)
                )
                await _empty(base.engine, effects, tables.inbox)
                await settle(base.engine)
                pipeline = runtime(f"pipeline{repetition}x{lanes}", effects, lanes)
                c_runs[lanes].append(await dunlin_pipeline(pipeline, opts.events, meter))
        helper = runtime("naive", naive)
        try:
            slow = await naive_consume(infra, topic, helper, naive, opts)
        finally:
            await helper.engine.dispose()
        if opts.profile:
            profiler = Profiler("consumer_pipeline")
            profiled_runtime = runtime("profiled", profiled, opts.lanes)
            await dunlin_pipeline(profiled_runtime, opts.events, meter, profiler)
            profiler.report()
    finally:
        await base.engine.dispose()
        await meter_engine.dispose()
    pairs = [Pair(lanes, *_best(b_runs[lanes]), *_best(c_runs[lanes])) for lanes in counts]
    main, references = pairs[0], pairs[1:]
    dunlin = main.c.rate

    n = f"{opts.events:,} events, {PARTITIONS} partitions, batch {opts.batch_size}"
    return [
        Result(
            "broker.raw_produce",
            produced.count / produced.seconds,
            "events/s",
            note="plain producer, acks=all: the relay's broker ceiling",
        ),
        Result("consumer.a_raw_broker", raw, "events/s", note=f"getmany only; {n}"),
        *_pair_rows(main, reference=False),
        *(row for pair in references for row in _pair_rows(pair, reference=True)),
        Result(
            "consumer.d_naive",
            slow,
            "events/s",
            note=f"one transaction per event; {opts.naive_events:,} events, rate extrapolated",
        ),
        Result("consumer.c_over_d", dunlin / slow, "x", note="batching vs per-event"),
        Result("consumer.c_over_a", dunlin / raw, "x", note="share of the raw broker rate"),
    ]


def replay_python_us(
    events: int = 20_000, passes: int = 15, *, tune_gc: bool = True
) -> tuple[float, float]:
    """c's Python work per event without broker or database, as (minimum, median) µs.

    The corpus is built into record batches of `_POLL_SLICE` records, then each pass does what
    the pipeline's thread does per event apart from I/O and the handler: aiokafka's parsing
    (`PartitionRecords`, CRC check included), `BatchConsumer._decode`, the batch's dedupe
    and inbox parameter (`_apply_in_one_transaction` with the transaction itself stubbed)
    and freeing the batches. CPU time, so a loaded machine disturbs it far less than a run
    against the servers: compare two commits with it (A B A B ...), then confirm with runs.
    """
    from statistics import median

    from aiokafka.consumer.fetcher import PartitionRecords
    from aiokafka.record.default_records import DefaultRecordBatchBuilder
    from aiokafka.record.memory_records import MemoryRecords
    from aiokafka.structs import TopicPartition

    from dunlin_platform import consumer as consumer_module
    from dunlin_platform.heap import freeze_startup_heap
    from dunlin_platform.lanes import Polled
    from dunlin_platform.text_columns import text_parameter

    per_poll = consumer_module._POLL_SLICE
    chunk = consumer_module._DECODE_CHUNK
    corpus = records(events)
    buffers = []
    for at in range(0, events, per_poll):
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=0,
            is_transactional=0,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=1 << 30,
        )
        for index, record in enumerate(corpus[at : at + per_poll]):
            builder.append(
                index, timestamp=None, key=record.key, value=record.value, headers=record.headers
            )
        buffers.append(bytes(builder.build()))
    del corpus
    if tune_gc:
        freeze_startup_heap()  # as BatchConsumer.run does
    tp = TopicPartition("replay", 0)
    pipeline = consumer_module.BatchConsumer.__new__(consumer_module.BatchConsumer)
    pipeline.group_id, pipeline.processed_total = "replay", 0

    async def transaction(envelopes: list[Any], ids: list[str], *, all_new: bool) -> int:
        text_parameter(ids)
        return len(envelopes)

    setattr(pipeline, "_transaction", transaction)  # noqa: B010 - mypy: method

    def one_pass() -> None:
        spent: list[Polled] = []
        for buffer in buffers:
            messages = list(PartitionRecords(tp, MemoryRecords(buffer), [], 0, None, None, True, 0))
            part = Polled.empty()
            part.batch[tp] = messages
            for at in range(0, len(messages), chunk):
                pipeline._decode(messages[at : at + chunk], part)
            if part.rejected or len(part.envelopes) != len(messages):
                raise RuntimeError(f"the replay's corpus did not decode: {part.rejected[:1]}")
            coroutine = pipeline._apply_in_one_transaction(part.envelopes)
            with contextlib.suppress(StopIteration):
                coroutine.send(None)  # never suspends: the transaction is stubbed
            spent.append(part)
            if len(spent) > 2 * 1_000 // per_poll:  # about two batches kept, as a lane does
                del spent[0]

    seconds = []
    for _ in range(passes):
        started = time.process_time()
        one_pass()
        seconds.append(time.process_time() - started)
    return 1e6 * min(seconds) / events, 1e6 * median(seconds) / events


if __name__ == "__main__":
    best, middle = replay_python_us()
    print(f"c's Python work without I/O: min {best:.2f}, median {middle:.2f} us/event")
