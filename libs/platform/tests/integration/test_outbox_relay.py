"""The transactional outbox and its relay against the real broker and database."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dunlin_events import AccountRegistered, KafkaRecord, decode

from .conftest import Harness, account_registered, consume_all, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def stage(harness: Harness, runtime: Any, accounts: list[str], per_account: int) -> None:
    """Issue events in many small transactions, interleaving accounts."""
    for i in range(per_account):
        async with runtime.sessionmaker() as session, session.begin():
            await runtime.outbox.add(
                session, *[account_registered(a, f"{a}#{i}") for a in accounts]
            )


async def unpublished(harness: Harness) -> int:
    return int(await harness.scalar('SELECT count(*) FROM "{s}".outbox WHERE published_at IS NULL'))


async def published_in_order(bootstrap: str, accounts: list[str], per_account: int) -> None:
    """Every staged event is on the topic, in issue order within each account."""
    seen: dict[str, list[int]] = defaultdict(list)
    for message in await consume_all(bootstrap, "invoicing.events"):
        envelope = decode(KafkaRecord(message.key, message.value, list(message.headers)))
        if envelope.subject in accounts:
            assert message.key == envelope.subject.encode(), "key = account id"
            assert isinstance(envelope.data, AccountRegistered)
            seen[envelope.subject].append(int(envelope.data.name.split("#")[1]))
    for account in accounts:
        ordinals = seen[account]
        first_copies = list(dict.fromkeys(ordinals))  # at-least-once: tolerate re-sends only
        assert first_copies == list(range(per_account)), f"{account} out of order"


def accounts_for(harness: Harness, n: int) -> list[str]:
    return [f"{harness.schema}-acc{i}" for i in range(n)]


async def test_the_relay_publishes_every_committed_event_in_order_per_account(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    runtime = harness.runtime()
    accounts = accounts_for(harness, 5)
    await runtime.start()
    await stage(harness, runtime, accounts, per_account=40)
    await eventually(lambda: _none_left(harness), what="the outbox to drain")
    await runtime.stop()
    await published_in_order(kafka_bootstrap_servers, accounts, per_account=40)


async def _none_left(harness: Harness) -> bool:
    return await unpublished(harness) == 0


async def test_events_of_a_rolled_back_transaction_never_leave(harness: Harness) -> None:
    runtime = harness.runtime(run_relay=False)

    async def change_that_fails() -> None:
        async with runtime.sessionmaker() as session, session.begin():
            await runtime.outbox.add(session, account_registered("acc-rollback"))
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    await runtime.stop()
    assert await harness.scalar('SELECT count(*) FROM "{s}".outbox') == 0


async def test_rows_keep_the_trace_context_of_the_transaction_that_wrote_them(
    harness: Harness,
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    runtime = harness.runtime(run_relay=False)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("issue invoice") as span:
        async with runtime.sessionmaker() as session, session.begin():
            await runtime.outbox.add(session, account_registered("acc-traced"))
    await runtime.stop()
    stored = await harness.scalar('SELECT tracingspancontext FROM "{s}".outbox')
    assert stored.split("-")[1] == format(span.get_span_context().trace_id, "032x")


async def test_the_relay_wakes_on_new_rows_without_waiting_for_its_poll(harness: Harness) -> None:
    runtime = harness.runtime(outbox_poll_interval_s=300.0)
    await runtime.start()
    await eventually(lambda: _leading(runtime), what="the relay to lead")
    await stage(harness, runtime, accounts_for(harness, 1), per_account=1)
    # Far inside the 300 s safety poll: only the NOTIFY can have woken it.
    await eventually(lambda: _none_left(harness), within=10, what="the relay to wake")
    await runtime.stop()


async def test_an_outbox_built_without_on_commit_still_wakes_the_running_relay(
    harness: Harness,
) -> None:
    from dunlin_platform.outbox import Outbox

    runtime = harness.runtime(outbox_poll_interval_s=300.0)
    # Like a handler's Outbox made before its runtime existed: no on_commit of its own.
    outbox = Outbox(table=harness.tables.outbox, source="/tests")
    await runtime.start()
    await eventually(lambda: _leading(runtime), what="the relay to lead")
    async with runtime.sessionmaker() as session, session.begin():
        await outbox.add(session, account_registered(f"{harness.schema}-x", "x"))
    await eventually(lambda: _none_left(harness), within=10, what="the relay to wake")
    await runtime.stop()


async def test_a_write_on_a_standby_replica_wakes_the_leader(harness: Harness) -> None:
    leader = harness.runtime(outbox_poll_interval_s=300.0)
    standby = harness.runtime(outbox_poll_interval_s=300.0)
    await leader.start()
    await eventually(lambda: _leading(leader), what="the relay to lead")
    await standby.start()
    await stage(harness, standby, accounts_for(harness, 1), per_account=2)
    await eventually(lambda: _none_left(harness), within=10, what="the leader to wake")
    assert not standby.relay.is_leader
    await standby.stop()
    await leader.stop()


async def test_rows_written_outside_the_service_wake_the_relay_through_notify(
    harness: Harness,
) -> None:
    runtime = harness.runtime(outbox_poll_interval_s=300.0)
    await runtime.start()
    await eventually(lambda: _leading(runtime), what="the relay to lead")
    # The harness engine is not a service connection: its insert fires the trigger's NOTIFY.
    async with harness.engine.begin() as conn:
        await conn.execute(
            runtime.tables.outbox.insert(),
            [runtime.outbox._row(e) for e in _envelopes(harness)],
        )
    await eventually(lambda: _none_left(harness), within=10, what="NOTIFY to wake the relay")
    await runtime.stop()


def _envelopes(harness: Harness) -> list[Any]:
    from dunlin_events import new_envelope

    return [new_envelope(account_registered(f"{harness.schema}-ext"), source="/elsewhere")]


async def _leading(runtime: Any) -> bool:
    return bool(runtime.relay.is_leader)


async def test_only_one_replica_relays_and_another_takes_over_when_it_stops(
    harness: Harness,
) -> None:
    first, second = harness.runtime(), harness.runtime()
    await first.start()
    await eventually(lambda: _leading(first), what="a leader")
    await second.start()
    await asyncio.sleep(1)
    assert not second.relay.is_leader, "the advisory lock admits one relay per schema"
    await first.stop()
    await stage(harness, second, accounts_for(harness, 2), per_account=3)
    await eventually(lambda: _none_left(harness), what="the standby to take over")
    assert second.relay.is_leader
    await second.stop()


async def test_broker_down_while_events_are_issued_then_all_are_published_on_recovery(
    harness: Harness, restartable_broker: Any
) -> None:
    runtime = harness.runtime(kafka_bootstrap_servers=restartable_broker.bootstrap)
    await runtime.start()
    await eventually(lambda: _leading(runtime), what="the relay to lead")
    accounts = accounts_for(harness, 4)
    await restartable_broker.stop()
    await stage(harness, runtime, accounts, per_account=25)
    await asyncio.sleep(2)
    assert await unpublished(harness) == 100, "the outbox holds everything while the broker is down"

    await restartable_broker.start()
    await eventually(lambda: _none_left(harness), within=90, what="publishing after recovery")
    await runtime.stop()
    await published_in_order(restartable_broker.bootstrap, accounts, per_account=25)


async def test_a_service_started_without_a_broker_becomes_ready_when_it_appears(
    harness: Harness, restartable_broker: Any
) -> None:
    await restartable_broker.stop()
    runtime = harness.runtime(kafka_bootstrap_servers=restartable_broker.bootstrap)
    await runtime.start()
    checks = runtime.readiness_checks()
    await checks["database"]()
    with pytest.raises(Exception, match="broker"):
        await checks["broker"]()

    await restartable_broker.start()

    async def broker_ready() -> bool:
        try:
            await checks["broker"]()
        except Exception:
            return False
        return True

    await eventually(broker_ready, within=60, what="readiness after the broker appears")
    await runtime.stop()


async def test_add_many_and_add_payloads_write_exactly_the_rows_add_writes_in_event_order(
    harness: Harness,
) -> None:
    from dunlin_events import AccountRegistered
    from dunlin_platform.outbox import Outbox

    table = harness.tables.outbox
    outbox = Outbox(table=table, source="/tests")
    at = dt.datetime(2025, 6, 2, 6, 0, tzinfo=dt.UTC)
    account = str(uuid.uuid4())
    events = [account_registered(account, f"Ada {n}") for n in range(4)]
    traceparents = [f"00-{'a' * 32}-{n + 1:016x}-01" for n in range(len(events))]
    sessionmaker = async_sessionmaker(harness.engine)
    async with sessionmaker() as session, session.begin():
        await outbox.add(session, *events, occurred_at=at, traceparents=traceparents)
        await outbox.add_many(session, events, occurred_at=at, traceparents=traceparents)
        await outbox.add_payloads(
            session,
            AccountRegistered,
            [e.key() for e in events],
            [e.model_dump_json() for e in events],
            occurred_at=at,
            traceparents=traceparents,
        )
        with pytest.raises(ValueError, match="one key per payload"):
            await outbox.add_payloads(session, AccountRegistered, [account], [])
        result = await session.execute(
            select(table).where(table.c.aggregateid == account).order_by(table.c.seq)
        )
        found = [dict(r._mapping) for r in result]
        await session.rollback()
    n = len(events)
    for i, row in enumerate(found):
        # add: uuid4s; the bulk writes: UUIDv7 blocks (see test_outbox_bulk.py)
        assert uuid.UUID(row.pop("id")).version == (4 if i < n else 7)
        row.pop("seq")
    added, many, prepared = found[:n], found[n : 2 * n], found[2 * n :]
    assert many == added
    assert prepared == added
    assert [r["type"] for r in many] == [e.ce_type() for e in events]
    assert [r["tracingspancontext"] for r in many] == traceparents


def _too_large(account: str) -> AccountRegistered:
    """A valid event whose JSON is over the outbox's limit: 19,000 tags of 50 characters."""
    return AccountRegistered(
        account_id=account,
        name="Big",
        currency="EUR",
        payment_terms={"kind": "net", "days": 30},
        tags=[f"{n:050d}" for n in range(19_000)],
    )


async def test_an_event_too_large_to_publish_is_refused_where_it_is_written(
    harness: Harness,
) -> None:
    from dunlin_platform.kafka import MAX_PAYLOAD_BYTES
    from dunlin_platform.outbox import EventTooLarge, Outbox
    from dunlin_platform.outbox_copy import CopyOutbox

    account = f"{harness.schema}-big"
    big, small = _too_large(account), account_registered(account)
    assert len(big.model_dump_json()) > MAX_PAYLOAD_BYTES
    sessionmaker = async_sessionmaker(harness.engine)
    outbox = Outbox(table=harness.tables.outbox, source="/tests")
    copy = CopyOutbox(table=harness.tables.outbox, source="/tests")
    writes: dict[str, Callable[[AsyncSession], Awaitable[Any]]] = {
        "add": lambda session: outbox.add(session, small, big),
        "add_many": lambda session: outbox.add_many(session, [small, big]),
        "add_payloads": lambda session: outbox.add_payloads(
            session,
            AccountRegistered,
            [account] * 2,
            [small.model_dump_json(), big.model_dump_json()],
        ),
        "copy": lambda session: copy.add_many(session, [small, big]),
    }
    for name, write in writes.items():
        with pytest.raises(
            EventTooLarge, match=r"AccountRegistered.v1 event of 1,0\d\d,\d\d\d bytes"
        ):
            async with sessionmaker() as session, session.begin():
                await write(session)
        assert await harness.scalar('SELECT count(*) FROM "{s}".outbox') == 0, name


async def test_a_row_too_large_to_publish_holds_back_its_account_and_the_rest_is_published(
    harness: Harness, kafka_bootstrap_servers: str, caplog: pytest.LogCaptureFixture
) -> None:
    from dunlin_platform.outbox import Outbox

    held, other = accounts_for(harness, 2)
    outbox = Outbox(table=harness.tables.outbox, source="/tests")
    async with async_sessionmaker(harness.engine)() as session, session.begin():
        for n in range(3):
            await outbox.add(session, account_registered(held, f"{held}#{n}"))
            await outbox.add(session, account_registered(other, f"{other}#{n}"))
    # A row written before the outbox refused such events (or by hand): 1.1 MB of padding,
    # which the event's tolerant reader would ignore, but no broker of default settings takes.
    async with harness.engine.begin() as conn:
        padded = await conn.execute(
            text(
                f"""UPDATE "{harness.schema}".outbox SET payload = left(payload, -1)
                    || ',"padding":"' || repeat('x', 1100000) || '"}}'
                    WHERE aggregateid = :held AND payload LIKE '%#1"%'"""
            ),
            {"held": held},
        )
        assert padded.rowcount == 1
    # Rounds of two rows: once the held account's rows are the oldest, a round reads them
    # alone, unless the relay leaves the held account out of its reads.
    runtime = harness.runtime(outbox_batch_size=2)
    await runtime.start()

    async def only_the_held_account_waits() -> bool:
        return await unpublished(harness) == 2

    await eventually(only_the_held_account_waits, what="the other account's events")
    await asyncio.sleep(1)  # rounds go on: the held rows stay held
    assert await unpublished(harness) == 2
    await runtime.stop()

    names: dict[str, list[str]] = defaultdict(list)
    for message in await consume_all(kafka_bootstrap_servers, "invoicing.events"):
        envelope = decode(KafkaRecord(message.key, message.value, list(message.headers)))
        if envelope.subject in (held, other):
            assert isinstance(envelope.data, AccountRegistered)
            names[envelope.subject].append(envelope.data.name)
    assert names[other] == [f"{other}#{n}" for n in range(3)]
    assert names[held] == [f"{held}#0"], "#2 waits behind #1: the account's order holds"
    assert any("cannot be published" in r.getMessage() for r in caplog.records)


class _RefusingProducer:
    """The real producer, except that the broker's answer for one partition is a refusal."""

    def __init__(self, producer: Any, refused: tuple[str, int]) -> None:
        self._producer = producer
        self._refused = refused

    async def partitions_for(self, topic: str) -> set[int]:
        return set(await self._producer.partitions_for(topic))

    def create_batch(self) -> Any:
        return self._producer.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        if (topic, partition) != self._refused:
            return await self._producer.send_batch(batch, topic, partition=partition)
        from aiokafka.errors import MessageSizeTooLargeError

        refusal: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refusal.set_exception(MessageSizeTooLargeError())
        return refusal


async def test_a_refused_partition_is_published_again_and_the_others_are_marked(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    from aiokafka.errors import MessageSizeTooLargeError
    from aiokafka.partitioner import murmur2

    runtime = harness.runtime(run_relay=False)
    accounts = accounts_for(harness, 12)
    await stage(harness, runtime, accounts, per_account=2)
    runtime.producers.start()
    producer = await runtime.producers.get()
    partitions = sorted(await producer.partitions_for("invoicing.events"))

    def partition_of(account: str) -> int:
        return int((murmur2(account.encode()) & 0x7FFFFFFF) % len(partitions))

    refused = partition_of(accounts[0])
    on_refused = {a for a in accounts if partition_of(a) == refused}
    assert len(on_refused) < len(accounts), "the accounts span several partitions"

    with pytest.raises(MessageSizeTooLargeError):
        await runtime.relay.publish_batch(
            _RefusingProducer(producer, ("invoicing.events", refused))
        )
    waiting = await harness.scalar(
        'SELECT array_agg(DISTINCT aggregateid) FROM "{s}".outbox WHERE published_at IS NULL'
    )
    assert set(waiting) == on_refused, "only the refused partition's rows are left"

    assert await runtime.relay.publish_batch(producer) == 2 * len(on_refused)
    await runtime.stop()
    await published_in_order(kafka_bootstrap_servers, accounts, per_account=2)
