"""Batched idempotent Kafka consumer: one transaction per polled batch, offsets after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import Envelope, Event, InvalidMessage
from dunlin_events.envelope import decode_parts
from dunlin_platform import metrics
from dunlin_platform.config import ServiceSettings
from dunlin_platform.deadletter import DeadLetter, DeadLetterPublisher
from dunlin_platform.errors import Backoff, is_transient
from dunlin_platform.heap import freeze_startup_heap
from dunlin_platform.inbox import AlreadyClaimed, claim_all, claim_new
from dunlin_platform.lanes import Lane, Polled, lane_of, split

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_LAG_EVERY_S = 2.0
_SUBSET_POLL_MS = 20
# Records taken per getmany: aiokafka parses them in one go (~2-3 us each), and a lane whose
# database reply arrives meanwhile waits for the loop. Slices are merged again by the lane,
# up to the batch size, so transactions stay as large as before when the lane is busy.
_POLL_SLICE = 250
_DECODE_CHUNK = 100  # messages decoded between turns of the event loop (~1 ms of work)

BatchHandler = Callable[[AsyncSession, Sequence[Envelope[Event]]], Awaitable[None]]


async def _first(waits: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Wait until the first of these finishes; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class RejectEvent(Exception):
    """A business rule refuses this event: it is dead-lettered and processing continues."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BatchAbandoned(Exception):
    """The batch's partitions were revoked mid-retry; their new owner redoes the work."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        owner = self._owner
        # No new batch of these partitions is applied from here on ...
        owner.revoked.update(revoked)
        # ... but the batches in flight finish and commit their offsets, while the partitions
        # are still ours (until this callback returns), so the next owner has nothing to redo.
        owner.handing_over.update(revoked)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    for lane in owner.lanes:
                        async with lane.busy:
                            # A commit that fails is the lane's to raise, not the rebalance's.
                            if lane.committing is not None:
                                await asyncio.wait([lane.committing])
        finally:
            owner.handing_over.difference_update(revoked)
        for tp in revoked:
            metrics.consumer_lag.discard(
                group=owner.group_id, topic=tp.topic, partition=str(tp.partition)
            )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._owner.revoked.difference_update(assigned)


class BatchConsumer:
    """Consumes topics in batches and applies each batch exactly once to the database.

    With `lanes` > 1 the assigned partitions are spread over that many lanes (a partition
    always in the same lane) which apply their batches concurrently, each batch in its own
    transaction followed by the offset commit of that lane's partitions: the order per
    partition is kept, while the database works on several batches at once. Handlers must
    then be correct when batches of different partitions (different keys) run concurrently.
    """

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        group_id: str,
        topics: Sequence[str],
        handler: BatchHandler,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Table,
        dead_letters: DeadLetterPublisher,
        lanes: int = 1,
    ) -> None:
        if lanes < 1:
            raise ValueError(f"a consumer needs at least one lane, got {lanes}")
        self.group_id = group_id
        self.topics = tuple(topics)
        self._settings = settings
        self._handler = handler
        self._sessionmaker = sessionmaker
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        batch_size = settings.consumer_batch_size
        # Up to two batches queued per lane: decoding runs ahead instead of alternating with
        # the transactions (the poller only fetches for lanes below that).
        self.lanes = [Lane(batch_size=batch_size, limit=2 * batch_size) for _ in range(lanes)]
        self.revoked: set[TopicPartition] = set()
        # Revoked partitions whose rebalance callback still runs: offsets may be committed.
        self.handing_over: set[TopicPartition] = set()
        self.running = False
        self.processed_total = 0
        self._lag_recorded_at = 0.0

    def stop(self) -> None:
        """Ask the loop to finish the batches in flight, commit and leave the group."""
        self._stop.set()

    async def run(self) -> None:
        """Consume until stopped; faults pause and retry, bad messages go to the DLQ."""
        freeze_startup_heap()
        consumer = await self._connect()
        if consumer is None:
            return
        self._consumer = consumer
        self.running = True
        # Polling and decoding (CPU here) run beside the lanes' transactions (CPU there).
        poller = asyncio.ensure_future(self._feed(consumer))
        workers = [asyncio.ensure_future(self._work(consumer, lane)) for lane in self.lanes]
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                [stopped, poller, *workers], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()  # a failed poller or lane ends the consumer with its error
            poller.cancel()  # what it fetched and did not queue is simply redelivered
            for lane in self.lanes:
                lane.close()
            await asyncio.gather(*workers)  # the batches in flight finish and commit
        finally:
            self.running = False
            # Offset commits still in flight here only after a failure: redelivery is harmless.
            commits = [lane.committing for lane in self.lanes if lane.committing is not None]
            pending: list[asyncio.Future[Any]] = [stopped, poller, *workers, *commits]
            for future in pending:
                future.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _feed(self, consumer: AIOKafkaConsumer) -> None:
        """Poll and decode, and queue each partition's messages on its lane, in order."""
        while True:
            partitions = self._partitions_with_room(consumer)
            if partitions is None:
                for lane in self.lanes:
                    lane.release()  # while the lanes' transactions run, not between them
                await _first(lane.room.wait() for lane in self.lanes if not lane.has_room)
                continue
            polled = await self._poll(consumer, partitions)
            if polled is not None:
                for lane, part in zip(self.lanes, polled, strict=True):
                    if part.batch:
                        lane.put(part)
            await self._record_lag(consumer)

    def _partitions_with_room(self, consumer: AIOKafkaConsumer) -> list[TopicPartition] | None:
        """The partitions to poll: [] for all of them, None when every lane is full."""
        if len(self.lanes) == 1:
            return [] if self.lanes[0].has_room else None
        assigned = consumer.assignment()
        count = len(self.lanes)
        partitions = [tp for tp in assigned if self.lanes[lane_of(tp, count)].has_room]
        if len(partitions) == len(assigned):
            return []
        return partitions or None

    async def _work(self, consumer: AIOKafkaConsumer, lane: Lane) -> None:
        """Apply a lane's batches one after the other until the lane is closed."""
        try:
            while (polled := await lane.take()) is not None:
                async with lane.busy:
                    await self._process(consumer, lane, polled.without(self.revoked))
                lane.retire(polled)
        finally:
            # A graceful stop leaves the group only once the last offsets are committed.
            await self.offsets_committed(lane)

    @staticmethod
    async def offsets_committed(lane: Lane) -> None:
        """Wait for the lane's offset commit in flight, if any; its error is raised here."""
        if lane.committing is not None:
            await lane.committing

    async def _poll(
        self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition] = ()
    ) -> list[Polled] | None:
        timeout_ms = self._settings.consumer_poll_timeout_ms
        if partitions:
            # Some lanes are full: wait briefly, so that a lane freed meanwhile is fed soon.
            timeout_ms = min(timeout_ms, _SUBSET_POLL_MS)
        batch = await consumer.getmany(
            *partitions,
            timeout_ms=timeout_ms,
            max_records=min(self._settings.consumer_batch_size, _POLL_SLICE),
        )
        if not batch:
            return None
        parts = [Polled.empty() for _ in self.lanes]
        for lane, tp, messages in split(batch, len(parts)):
            part = parts[lane]
            part.batch[tp] = messages
            for at in range(0, len(messages), _DECODE_CHUNK):
                # Between chunks the batches in flight take their turn: their next statement
                # goes out as soon as the database answers, so decoding fills the waits
                # instead of delaying the transactions by a whole batch's decoding.
                await asyncio.sleep(0)
                self._decode(messages[at : at + _DECODE_CHUNK], part)
        return parts

    async def _connect(self) -> AIOKafkaConsumer | None:
        backoff = Backoff(maximum=self._settings.consumer_max_backoff_s)
        while not self._stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                client_id=self._settings.kafka_client_id,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=self._settings.consumer_batch_size,
                max_partition_fetch_bytes=4 * 1024 * 1024,
                fetch_max_wait_ms=self._settings.consumer_fetch_max_wait_ms,
            )
            consumer.subscribe(list(self.topics), listener=_Rebalance(self))
            try:
                await consumer.start()
                return consumer
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                if not is_transient(exc):
                    raise
                delay = backoff.next_delay()
                log.warning("consumer %s waiting for broker (%.1fs): %s", self.group_id, delay, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        return None

    async def _process(self, consumer: AIOKafkaConsumer, lane: Lane, polled: Polled) -> None:
        started = time.perf_counter()
        batch, rejected = polled.batch, polled.rejected
        if not batch:
            return
        attrs = {"group": self.group_id}
        metrics.consumer_batch_size.record(sum(len(m) for m in batch.values()), attrs)
        try:
            rejected += await self._retrying(
                lambda: self._apply(polled.envelopes, polled.sources), set(batch)
            )
            if rejected:
                await self._retrying(lambda: self._dead_letters.publish(rejected), set(batch))
        except _BatchAbandoned:
            log.info("batch abandoned after rebalance; the new owner will redo it")
            return
        # The transaction has committed: the offsets go to the broker while the lane starts
        # its next batch (a broker round trip per batch, off the lane's critical path). One
        # commit per lane is in flight at a time, so a lane's offsets only ever move forward.
        await self.offsets_committed(lane)
        lane.committing = asyncio.ensure_future(self._commit(consumer, batch))
        metrics.consumer_batch_seconds.record(time.perf_counter() - started, attrs)
        metrics.consumed_events.add(len(polled.envelopes), {**attrs, "outcome": "applied"})

    def _decode(self, messages: Sequence[ConsumerRecord[bytes, bytes]], into: Polled) -> None:
        """Decode messages onto `into`; the invalid ones become dead letters."""
        add_envelope, add_source = into.envelopes.append, into.sources.append
        for message in messages:
            try:
                envelope = decode_parts(message.key, message.value, message.headers)
            except InvalidMessage as exc:
                into.rejected.append(DeadLetter.of(message, self.group_id, exc, exc.reason))
                continue
            add_envelope(envelope)
            add_source(message)

    async def _apply(
        self,
        envelopes: list[Envelope[Event]],
        sources: list[ConsumerRecord[bytes, bytes]],
    ) -> list[DeadLetter]:
        """The fast path: the whole batch in one transaction; on a bad event, isolate it."""
        try:
            await self._apply_in_one_transaction(envelopes)
            return []
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("batch of %d failed (%s); isolating the bad events", len(envelopes), exc)
        rejected: list[DeadLetter] = []
        for envelope, source in zip(envelopes, sources, strict=True):
            try:
                await self._apply_in_one_transaction([envelope])
            except Exception as exc:
                if is_transient(exc):
                    raise
                reason = (
                    exc.reason if isinstance(exc, RejectEvent) else f"{type(exc).__name__}: {exc}"
                )
                rejected.append(DeadLetter.of(source, self.group_id, exc, reason))
        return rejected

    async def _apply_in_one_transaction(self, envelopes: list[Envelope[Event]]) -> None:
        ids = [envelope.id for envelope in envelopes]
        if len(set(ids)) < len(ids):  # the same id twice in a batch: its first envelope only
            unique: dict[str, Envelope[Event]] = {}
            for envelope in envelopes:
                unique.setdefault(envelope.id, envelope)
            envelopes, ids = list(unique.values()), list(unique)
        try:
            # The usual batch has never been seen: claim it with a plain INSERT.
            applied = await self._transaction(envelopes, ids, all_new=True)
        except AlreadyClaimed:
            # A redelivery: redo the transaction, applying only the ids that are new.
            applied = await self._transaction(envelopes, ids, all_new=False)
        self.processed_total += applied

    async def _transaction(
        self, envelopes: list[Envelope[Event]], event_ids: list[str], *, all_new: bool
    ) -> int:
        """Claim the ids in the inbox and apply the new events, in one transaction."""
        inbox, group = self._inbox, self.group_id
        async with self._sessionmaker() as session, session.begin():
            if all_new:
                await claim_all(session, table=inbox, consumer=group, event_ids=event_ids)
            else:
                fresh = await claim_new(session, table=inbox, consumer=group, event_ids=event_ids)
                envelopes = [envelope for envelope in envelopes if envelope.id in fresh]
            if envelopes:
                await self._handler(session, envelopes)
        return len(envelopes)

    async def _retrying(
        self, work: Callable[[], Awaitable[_T]], partitions: set[TopicPartition]
    ) -> _T:
        backoff = Backoff(maximum=self._settings.consumer_max_backoff_s)
        while True:
            try:
                return await work()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if partitions & self.revoked:
                    raise _BatchAbandoned from exc
                delay = backoff.next_delay()
                metrics.consumer_retries.add(1, {"group": self.group_id})
                log.warning(
                    "transient fault in %s, retrying in %.1fs: %s", self.group_id, delay, exc
                )
                await asyncio.sleep(delay)

    async def _commit(
        self,
        consumer: AIOKafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        revoked, handing_over = self.revoked, self.handing_over
        offsets = {
            tp: OffsetAndMetadata(messages[-1].offset + 1, "")
            for tp, messages in batch.items()
            if messages and (tp not in revoked or tp in handing_over)
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group moved on; the inbox makes the redelivery harmless.
            log.info("offset commit lost to a rebalance: %s", exc)

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._lag_recorded_at < _LAG_EVERY_S:
            return
        self._lag_recorded_at = now
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            metrics.consumer_lag.set(
                max(0, highwater - position),
                group=self.group_id,
                topic=tp.topic,
                partition=str(tp.partition),
            )
