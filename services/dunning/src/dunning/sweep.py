"""The due sweep: executes due steps in batches, as a runtime loop and on demand."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from dunlin_platform import native
from dunlin_platform.config import ServiceSettings
from dunlin_platform.errors import is_transient
from dunlin_platform.outbox import Outbox
from dunlin_platform.outbox_copy import CopyOutbox
from dunlin_platform.runtime import ServiceRuntime
from dunning import repository as repo
from dunning.config import DunningSettings
from dunning.domain import NATIVE
from dunning.domain.assignment import PolicyBook
from dunning.handlers import sweep_batch

log = logging.getLogger(__name__)


async def sweep_once(
    runtime: ServiceRuntime, *, batch_size: int, workers: int = 1, processes: int = 1
) -> int:
    """Run every case due now, batch by batch; returns how many cases were processed.

    `workers` batches run at once, each in its own transaction: while one waits for the
    database, another computes. SKIP LOCKED gives each a different set of cases, exactly as
    it does for several replicas. When more than one batch is due and `processes` > 1, that
    many forked helper processes sweep instead (see `_Helper`): the engine is CPU-bound
    Python, and one process has one core.
    """
    now = runtime.clock.now()
    async with runtime.sessionmaker() as session:
        book = await repo.policy_book(session=session)
        many = processes > 1 and await repo.due_at_least(session=session, now=now, n=batch_size)
    if not many or _FORK is None:
        outbox = CopyOutbox(
            table=runtime.tables.outbox,
            source=runtime.settings.source,
            clock=runtime.clock,
            on_commit=runtime.relay.wake,
        )
        return await _sweep(runtime.sessionmaker, outbox, book, now, batch_size, workers)
    helpers = [
        _Helper.start(runtime.settings, runtime.tables.outbox, book, now, batch_size, workers)
        for _ in range(processes)
    ]
    try:
        results = await asyncio.gather(*(h.result() for h in helpers), return_exceptions=True)
    finally:
        for helper in helpers:
            helper.reap()
    # Whatever the others did is committed: a failure only leaves its own batch due.
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return sum(r for r in results if isinstance(r, int))


async def _sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    book: PolicyBook,
    now: dt.datetime,
    batch_size: int,
    workers: int,
    *,
    after_batch: Callable[[], object] | None = None,
) -> int:
    async def worker() -> int:
        done = 0
        while True:
            async with sessionmaker() as session, session.begin():
                claimed = await sweep_batch(
                    session=session, outbox=outbox, book=book, now=now, limit=batch_size
                )
            if after_batch is not None:
                after_batch()
            done += claimed
            if claimed < batch_size:
                return done

    if workers <= 1:
        return await worker()
    return sum(await asyncio.gather(*(worker() for _ in range(workers))))


_FORK = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else None
)


class _Helper:
    """A forked process that sweeps the same due cases (SKIP LOCKED) with its own connections.

    Forked, not spawned: the child starts with the modules, the policy book and the clock's
    `now` already in memory (a spawned interpreter spends seconds importing). It touches
    nothing of the parent's event loop or connection pool: it runs its own loop and engine.
    Its connections do not identify as the service's (`dunlin.outbox_wakeup`), so the outbox
    trigger NOTIFYs the relay at each commit, as for any writer outside the service process.
    Each batch is one transaction, as in the parent: a helper that dies loses no work, its
    open batch rolls back and the next sweep finds those cases still due.
    """

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self._process = process
        self._conn = conn
        self._answered = False

    @classmethod
    def start(
        cls,
        settings: ServiceSettings,
        outbox_table: Table,
        book: PolicyBook,
        now: dt.datetime,
        batch_size: int,
        workers: int,
    ) -> _Helper:
        assert _FORK is not None
        parent_end, child_end = _FORK.Pipe(duplex=False)
        process = _FORK.Process(
            target=_helper_main,
            args=(child_end, settings, outbox_table, book, now, batch_size, workers),
            name="dunning-sweep-helper",
            daemon=True,
        )
        process.start()
        child_end.close()
        return cls(process, parent_end)

    async def result(self) -> int:
        """How many cases the helper swept; raises if it failed."""
        # Wait on the pipe in the event loop, not in a thread per helper.
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        fd = self._conn.fileno()
        loop.add_reader(fd, ready)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        try:
            done, error = self._conn.recv()
        except EOFError:
            done, error = 0, "it exited without a result"
        self._answered = True
        if error is not None:
            raise RuntimeError(f"dunning sweep helper failed: {error}")
        return int(done)

    def reap(self) -> None:
        """Collect the process; one whose sweep was abandoned midway is terminated."""
        if not self._answered:
            self._process.terminate()  # its open batch rolls back
        self._process.join()
        self._conn.close()


def _helper_main(
    conn: Connection,
    settings: ServiceSettings,
    outbox_table: Table,
    book: PolicyBook,
    now: dt.datetime,
    batch_size: int,
    workers: int,
) -> None:
    # The parent's signal wake-up fd belongs to its event loop: a signal here must not wake it.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Inherited objects live as long as the process: never scan them. The process does
    # nothing but sweep, and a batch leaves (next to) no cycles behind, so cycles are
    # collected only every few batches (see _YoungCollector) instead of scanning each
    # batch's thousands of live states.
    gc.freeze()
    gc.disable()
    try:
        done = asyncio.run(_helper_sweep(settings, outbox_table, book, now, batch_size, workers))
    except BaseException as exc:
        conn.send((0, f"{type(exc).__name__}: {exc}"))
    else:
        conn.send((done, None))
    finally:
        conn.close()


async def _helper_sweep(
    settings: ServiceSettings,
    outbox_table: Table,
    book: PolicyBook,
    now: dt.datetime,
    batch_size: int,
    workers: int,
) -> int:
    engine = create_async_engine(
        settings.database_url,
        pool_size=workers,
        connect_args={"server_settings": {"application_name": f"{settings.kafka_client_id}-sweep"}},
    )
    try:
        outbox = CopyOutbox(table=outbox_table, source=settings.source, on_commit=_nothing)
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        return await _sweep(
            sessionmaker, outbox, book, now, batch_size, workers, after_batch=_YoungCollector()
        )
    finally:
        await engine.dispose()


class _YoungCollector:
    """Collects the young generation's cycles every `every` batches (the helpers run gc-less).

    A batch's states, effects and rows are freed by reference counting when it ends; a
    collection finds nothing of them (0 unreachable objects per batch, measured). What it
    does scan is everything alive at that moment, i.e. the thousands of states of the
    batches still in flight: once per batch that was ~11 us of CPU per case with two workers.
    Collecting every few batches keeps memory bounded should something start leaving
    cycles, at a fraction of that cost.
    """

    def __init__(self, every: int = 25) -> None:
        self._every = every
        self._batches = 0

    def __call__(self) -> None:
        self._batches += 1
        if self._batches % self._every == 0:
            gc.collect(0)  # what survives moves up and is not scanned again


def _nothing() -> None:
    """The relay is woken by the outbox trigger's NOTIFY (see _Helper)."""


def engine_build() -> str:
    """How the sweep's hot domain modules run: compiled (and from where) or plain, and why."""
    status = native.STATUS[NATIVE.package]  # set by activate() when dunning.domain was imported
    if status.native:
        return f"domain modules {status.reason}"
    return f"domain modules run as plain Python ({status.reason})"


def add_sweep_loop(runtime: ServiceRuntime, *, settings: DunningSettings) -> None:
    """Register the periodic sweep with the runtime."""

    async def loop() -> None:
        # Said once at start (logging is set up by then): a sweep several times slower than
        # usual is most often a service running its engine uncompiled.
        log.info("dunning sweep every %ss; %s", settings.sweep_interval_s, engine_build())
        stop = runtime.stop_requested
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.sweep_interval_s)
            if stop.is_set():
                return
            try:
                await sweep_once(
                    runtime,
                    batch_size=settings.sweep_batch_size,
                    workers=settings.sweep_workers,
                    processes=settings.sweep_processes,
                )
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("dunning sweep failed")
                else:
                    log.warning("dunning sweep postponed: %s", exc)

    runtime.add_loop("dunning-sweep", loop)
