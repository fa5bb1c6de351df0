"""The inbox consumer against real PostgreSQL and the real broker: once-only effects, DLQ, offsets after the DB."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import Table, func, select, text
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit import infra
from servicekit.contracts.base import EventContract
from servicekit.db import create_engine, create_sessionmaker
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_GROUP,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    OFFSET_COMMIT_INTERVAL_SECONDS,
    Handler,
    InboxConsumer,
    queue_follow_up,
    queue_write,
)
from servicekit.events.outbox import Outbox
from servicekit.events.topics import dlq_topic
from servicekit.settings import ServiceSettings


class ReplySent(EventContract):
    """A follow-up event a handler emits, to see which correlation and causation it inherits."""

    event_type: ClassVar[str] = "tests.reply.sent.v1"
    aggregate_field: ClassVar[str] = "order_id"

    order_id: str


def order_event(event_type: str, subject: str = "order-1", **attributes: Any) -> EventEnvelope:
    return EventEnvelope(source="/tests", type=event_type, subject=subject, data={"subject": subject}, **attributes)


async def count(engine: AsyncEngine, table: Table, *where: Any) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(select(func.count()).select_from(table).where(*where))
    return value or 0


def headers_of(record: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


@pytest.fixture
async def names(kafka: Any) -> dict[str, str]:
    """A fresh single-partition topic, consumer group and its dead-letter topic."""
    prefix = kafka.unique("inbox")
    names = {"prefix": prefix, "topic": f"{prefix}.order", "group": f"{prefix}.on-orders"}
    names["dlq"] = dlq_topic(names["group"])
    await kafka.create({names["topic"]: 1, names["dlq"]: 1})
    return names


async def test_a_redelivered_event_is_applied_once_and_follow_ups_carry_correlation_and_causation(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings, outbox: Outbox,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    handled = f"{names['prefix']}.order.created.v1"

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note=envelope.type))
        await outbox.add(session, ReplySent(order_id=envelope.subject).envelope(source="/tests"))

    correlated = order_event(handled, correlationid="corr-from-the-request")
    uncorrelated = order_event(handled)
    for envelope in (correlated, correlated, order_event(f"{names['prefix']}.order.ignored.v1"), uncorrelated,
                     correlated):
        await kafka.produce_envelope(envelope)

    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={handled: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=settings)
    background.start(consumer.run())
    partition = TopicPartition(names["topic"], 0)

    async def all_committed() -> bool:
        return await kafka.committed(names["group"], partition) == 5

    await eventually(all_committed)
    assert await count(engine, effect, effect.c.event_id == correlated.id) == 1
    assert await count(engine, effect, effect.c.event_id == uncorrelated.id) == 1
    assert await count(engine, effect) == 2, "the unhandled type has no effect"
    assert await count(engine, inbox, inbox.c.consumer_group == names["group"]) == 2
    async with engine.connect() as connection:
        replies = (await connection.execute(select(outbox.table.c.headers).order_by(outbox.table.c.seq))).all()
    assert [(row.headers["ce_correlationid"], row.headers["ce_causationid"]) for row in replies] == [
        ("corr-from-the-request", str(correlated.id)),
        (str(uncorrelated.id), str(uncorrelated.id)),
    ]


async def test_a_message_failing_every_attempt_goes_to_the_dlq_and_the_partition_moves_on(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    event_type = f"{names['prefix']}.order.created.v1"
    poison, good = order_event(event_type, subject="order-7"), order_event(event_type, subject="order-7")
    attempts_at: list[float] = []

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))
        if envelope.id == poison.id:
            attempts_at.append(time.monotonic())
            raise ValueError("cannot apply this order")

    await kafka.produce_envelope(poison)
    await kafka.produce(names["topic"], key=b"order-7", value=b"{not json", headers=[("ce_id", b"garbage")])
    await kafka.produce_envelope(good)

    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=settings,
                             max_attempts=4, backoff_base=0.05, backoff_max=0.1)
    background.start(consumer.run())

    dead = await kafka.read_count(names["dlq"], 2)
    partition = TopicPartition(names["topic"], 0)

    async def all_committed() -> bool:
        return await kafka.committed(names["group"], partition) == 3

    await eventually(all_committed)
    assert len(attempts_at) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts_at)]
    assert all(gap >= 0.045 for gap in gaps), f"retries must back off, not spin: {gaps}"
    assert await count(engine, effect, effect.c.event_id == poison.id) == 0, "failed attempts roll back"
    assert await count(engine, effect, effect.c.event_id == good.id) == 1
    assert await count(engine, inbox, inbox.c.event_id == poison.id) == 0

    first, second = sorted(dead, key=lambda record: record.offset)
    assert (first.key, first.value) == (b"order-7", poison.kafka_value())
    assert EventEnvelope.from_kafka(first.headers, first.value) == poison
    assert {
        name: value for name, value in headers_of(first).items() if name.startswith("dlq-")
    } == {
        DLQ_ORIGINAL_TOPIC: names["topic"], DLQ_ORIGINAL_PARTITION: "0", DLQ_ORIGINAL_OFFSET: "0",
        DLQ_ERROR: "ValueError: cannot apply this order", DLQ_ATTEMPTS: "4", DLQ_GROUP: names["group"],
    }
    assert (second.key, second.value) == (b"order-7", b"{not json")
    assert headers_of(second)[DLQ_ORIGINAL_OFFSET] == "1"
    assert headers_of(second)[DLQ_ATTEMPTS] == "1", "an unreadable message is not retried"
    assert headers_of(second)[DLQ_ERROR]
    # What the dead-letter alert and panel count (the group is this test's own).
    assert REGISTRY.get_sample_value("odr_inbox_events_total", {"group": names["group"],
                                                                "outcome": "dead_lettered"}) == 2


async def test_while_events_flow_offsets_are_committed_once_a_second_and_at_once_when_they_stop(
    sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings, inbox: Table, effect: Table,
    kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    """A commit per fetch would move the committed offset about ten times a second while events flow."""
    handled = f"{names['prefix']}.order.created.v1"

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note=envelope.type))

    background.start(InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={handled: apply},
                                   sessionmaker=sessionmaker, inbox=inbox, settings=settings).run())
    partition = TopicPartition(names["topic"], 0)
    await kafka.produce_envelope(order_event(handled))

    def committed(offset: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await kafka.committed(names["group"], partition) == offset
        return check

    await eventually(committed(1))

    async def flow() -> None:
        for number in range(40):
            await kafka.produce_envelope(order_event(handled, subject=f"order-{number}"))
            await asyncio.sleep(0.05)

    began = time.monotonic()
    flowing = asyncio.create_task(flow())
    offsets_seen = set()
    while not flowing.done():
        offsets_seen.add(await kafka.committed(names["group"], partition))
    await flowing
    seconds = time.monotonic() - began
    assert len(offsets_seen) <= seconds / OFFSET_COMMIT_INTERVAL_SECONDS + 2, (offsets_seen, seconds)
    await eventually(committed(41), within=5)


async def test_the_offset_is_committed_only_after_the_database_commit(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any, never: Any,
) -> None:
    event_type = f"{names['prefix']}.order.created.v1"
    entered, release = asyncio.Event(), asyncio.Event()

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))
        entered.set()
        await release.wait()

    event = order_event(event_type)
    await kafka.produce_envelope(event)
    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=settings)
    background.start(consumer.run())
    partition = TopicPartition(names["topic"], 0)

    await asyncio.wait_for(entered.wait(), 15)

    async def committed_or_applied_early() -> bool:
        return await kafka.committed(names["group"], partition) is not None or await count(engine, effect) != 0

    await never(committed_or_applied_early, within=0.5)

    release.set()

    async def committed() -> bool:
        return await kafka.committed(names["group"], partition) == 1

    await eventually(committed)
    assert await count(engine, effect, effect.c.event_id == event.id) == 1
    assert await count(engine, inbox, inbox.c.event_id == event.id) == 1


async def test_a_fetch_across_partitions_is_one_transaction_each_partition_in_its_own_order(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    topic = f"{names['prefix']}.orders"
    await kafka.create({topic: 2})
    event_type = f"{names['prefix']}.order.created.v1"
    first_a, second_a, only_b = order_event(event_type, "order-a"), order_event(event_type, "order-a"), \
        order_event(event_type, "order-b")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event, partition in ((first_a, 0), (second_a, 0), (only_b, 1), (first_a, 1)):
            await producer.send_and_wait(topic, key=event.subject.encode(), value=event.kafka_value(),
                                         headers=event.kafka_headers(), partition=partition)
    finally:
        await producer.stop()
    applied: list[str] = []
    transactions: set[int] = set()

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note=envelope.subject))
        transactions.add(int(await session.scalar(text("SELECT txid_current()")) or 0))
        applied.append(str(envelope.id))

    consumer = InboxConsumer(group=names["group"], topics=[topic], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=settings, max_attempts=1)
    background.start(consumer.run())

    async def committed() -> bool:
        return (await kafka.committed(names["group"], TopicPartition(topic, 0)) == 2
                and await kafka.committed(names["group"], TopicPartition(topic, 1)) == 2)

    await eventually(committed, within=15)
    assert [event_id for event_id in applied if event_id != str(only_b.id)] == [str(first_a.id), str(second_a.id)]
    assert len(transactions) == 1, "the partitions of one fetch share one transaction"
    # first_a came again on the other partition: the fetch's inbox insert drops it.
    assert await count(engine, effect, effect.c.event_id.in_([first_a.id, second_a.id, only_b.id])) == 3
    assert await count(engine, inbox, inbox.c.consumer_group == names["group"]) == 3
    assert await kafka.end_offset(names["dlq"], 0) == 0
    # Caught up: the lag each partition's gauge shows for the alert is nothing left to read.
    for partition in ("0", "1"):
        assert REGISTRY.get_sample_value("odr_consumer_lag", {"group": names["group"], "topic": topic,
                                                              "partition": partition}) == 0


async def test_a_fetch_is_applied_in_one_transaction_and_a_failure_in_it_loses_nothing(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    event_type = f"{names['prefix']}.order.created.v1"
    events = [order_event(event_type, subject="order-9") for _ in range(6)]
    flaky = events[3]
    failures_left = [1]
    transactions: dict[str, int] = {}

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))
        transactions[str(envelope.id)] = int(await session.scalar(text("SELECT txid_current()")) or 0)
        if envelope.id == flaky.id and failures_left[0]:
            failures_left[0] -= 1
            raise ValueError("the first attempt fails")

    for event in events:
        await kafka.produce_envelope(event)
    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=settings, backoff_base=0.05)
    background.start(consumer.run())

    async def committed() -> bool:
        return await kafka.committed(names["group"], TopicPartition(names["topic"], 0)) == len(events)

    await eventually(committed)
    # The batch holding the flaky event was rolled back whole, then each event applied once in its own transaction.
    assert await count(engine, effect) == len(events)
    assert await count(engine, inbox, inbox.c.consumer_group == names["group"]) == len(events)
    assert transactions[str(flaky.id)] != transactions[str(events[4].id)]
    assert await kafka.end_offset(names["dlq"], 0) == 0

    await background.cancel_all()
    more = [order_event(event_type, subject="order-9") for _ in range(5)]
    for event in more:
        await kafka.produce_envelope(event)
    transactions.clear()
    background.start(InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                                   sessionmaker=sessionmaker, inbox=inbox, settings=settings).run())

    async def all_committed() -> bool:
        return await kafka.committed(names["group"], TopicPartition(names["topic"], 0)) == len(events) + len(more)

    await eventually(all_committed, within=30)
    assert await count(engine, effect) == len(events) + len(more)
    assert len(transactions) == len(more)
    assert len(set(transactions.values())) == 1, "the events of one fetch share one transaction"


async def test_a_fetchs_queued_writes_run_as_one_execution_then_their_follow_up_and_a_lone_events_too(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    event_type = f"{names['prefix']}.order.created.v1"
    queued_effect = effect.insert()
    seen_by_handlers: list[int] = []
    followed_up: list[tuple[list[uuid.UUID], int]] = []

    async def follow_up(session: AsyncSession, event_ids: list[uuid.UUID]) -> None:
        followed_up.append((event_ids, await session.scalar(
            select(func.count()).select_from(effect).where(effect.c.event_id.in_(event_ids))) or 0))

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        queue_write(session, queued_effect, {"event_id": envelope.id, "note": "queued"})
        queue_follow_up(session, follow_up, envelope.id)
        seen_by_handlers.append(await session.scalar(select(func.count()).select_from(effect)) or 0)

    effect_inserts: list[int] = []

    def count_inserts(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                      executemany: bool) -> None:
        if statement.startswith("INSERT INTO effect"):
            effect_inserts.append(len(parameters) if executemany else 1)

    sqlalchemy_event.listen(engine.sync_engine, "before_cursor_execute", count_inserts)
    fetched = [order_event(event_type, subject=f"order-{number}") for number in range(5)]
    for envelope in fetched:
        await kafka.produce_envelope(envelope)
    background.start(InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                                   sessionmaker=sessionmaker, inbox=inbox, settings=settings).run())
    partition = TopicPartition(names["topic"], 0)

    def committed(offset: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await kafka.committed(names["group"], partition) == offset
        return check

    await eventually(committed(len(fetched)))
    assert await count(engine, effect, effect.c.note == "queued") == len(fetched)
    assert seen_by_handlers == [0] * len(fetched), "queued writes wait until every handler of the fetch has run"
    assert len(effect_inserts) == 1, f"one execution for the whole fetch, not one per event: {effect_inserts}"
    assert followed_up == [([envelope.id for envelope in fetched], len(fetched))], \
        "the follow-up runs once for the fetch, after the writes queued before it"

    lone = order_event(event_type, subject="order-lone")
    await kafka.produce_envelope(lone)
    await eventually(committed(len(fetched) + 1))
    assert await count(engine, effect, effect.c.event_id == lone.id) == 1


async def test_a_write_queued_outside_a_consumers_transaction_is_refused_not_lost(
    sessionmaker: async_sessionmaker[AsyncSession], effect: Table,
) -> None:
    async with sessionmaker() as session, session.begin():
        with pytest.raises(RuntimeError, match="inbox consumer's transaction"):
            queue_write(session, effect.insert(), {"event_id": uuid.uuid4(), "note": "lost"})


async def test_a_fetch_whose_locks_cross_a_requests_yields_to_the_request(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    """The request locks its case, then the shared row; the fetch's first event locks the shared row, its second the
    request's case. Without giving way the request, waiting first, would be PostgreSQL's deadlock victim."""
    async with engine.begin() as connection:
        shared, case = (await connection.execute(
            effect.insert().values([{"event_id": uuid.uuid4(), "note": "shared row"},
                                    {"event_id": uuid.uuid4(), "note": "the request's case"}])
            .returning(effect.c.id))).scalars().all()
    takes_shared, takes_case = f"{names['prefix']}.order.shared-locked.v1", f"{names['prefix']}.order.case-locked.v1"
    shared_taken, request_waits = asyncio.Event(), asyncio.Event()

    def locker(row: int, after: Callable[[], Awaitable[None]]) -> Handler:
        async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
            await session.execute(select(effect.c.id).where(effect.c.id == row).with_for_update())
            await after()
            await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))
        return apply

    async def then_let_the_request_wait() -> None:
        shared_taken.set()
        await request_waits.wait()

    async def nothing() -> None:
        pass

    for event_type in (takes_shared, takes_case):
        await kafka.produce_envelope(order_event(event_type))
    async with engine.connect() as request:
        await request.begin()
        await request.execute(select(effect.c.id).where(effect.c.id == case).with_for_update())
        background.start(InboxConsumer(
            group=names["group"], topics=[names["topic"]], sessionmaker=sessionmaker, inbox=inbox, settings=settings,
            handlers={takes_shared: locker(shared, then_let_the_request_wait), takes_case: locker(case, nothing)},
        ).run())
        await asyncio.wait_for(shared_taken.wait(), 30)
        request_pid = await request.scalar(text("SELECT pg_backend_pid()"))
        wanted = asyncio.create_task(request.execute(select(effect.c.id).where(effect.c.id == shared)
                                                     .with_for_update()))

        async def request_waits_for_the_shared_row() -> bool:
            async with engine.connect() as observer:
                waiting_on = await observer.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": request_pid})
            return bool(waiting_on == "Lock")

        await eventually(request_waits_for_the_shared_row)
        request_waits.set()  # the fetch's second event now waits for the request's case: the locks cross
        await asyncio.wait_for(wanted, 30)
        await request.commit()

    async def applied() -> bool:
        return await count(engine, effect, effect.c.note == "applied") == 2

    await eventually(applied, within=30)
    assert await count(engine, inbox, inbox.c.consumer_group == names["group"]) == 2
    assert await kafka.end_offset(names["dlq"], 0) == 0


async def test_a_quiet_consumer_fetches_with_the_long_wait_and_its_first_event_brings_back_the_short_one(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    tuned = settings.model_copy(update={"kafka_fetch_max_wait_ms": 50, "kafka_idle_fetch_max_wait_ms": 400})
    event_type = f"{names['prefix']}.order.created.v1"
    waits_when_applied: list[int] = []

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))
        waits_when_applied.append(consumer.fetch_wait_ms)

    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=tuned)
    background.start(consumer.run())

    async def quiet() -> bool:
        return consumer.fetch_wait_ms == 400

    await eventually(quiet)
    event = order_event(event_type)
    sent_at = time.monotonic()
    await kafka.produce_envelope(event)

    async def applied() -> bool:
        return await count(engine, effect, effect.c.event_id == event.id) == 1

    await eventually(applied)
    assert time.monotonic() - sent_at < 1.5, "the first event after a lull waits at most about the long wait"
    assert waits_when_applied == [50], "records shorten the wait before they are applied"


async def test_an_unreachable_database_stops_the_consumer_without_dead_lettering_or_committing(
    settings: ServiceSettings, inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any,
) -> None:
    event_type = f"{names['prefix']}.order.created.v1"

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))

    await kafka.produce_envelope(order_event(event_type))
    nowhere = settings.model_copy(update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{infra.free_port()}/x"})
    engine = create_engine(nowhere, pool_size=1)
    consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                             sessionmaker=create_sessionmaker(engine), inbox=inbox, settings=settings,
                             max_attempts=2, max_infrastructure_attempts=3, backoff_base=0.05)
    try:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(background.start(consumer.run()), 20)
    finally:
        await engine.dispose()
    assert await kafka.committed(names["group"], TopicPartition(names["topic"], 0)) is None
    assert await kafka.end_offset(names["dlq"], 0) == 0


async def test_lock_timeouts_beyond_the_handlers_budget_are_retried_never_dead_lettered(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, kafka: Any, names: dict[str, str], background: Any, eventually: Any,
) -> None:
    """A handler's budget is 2 attempts; the lock it needs is held for 4: the event still applies, once."""
    event_type = f"{names['prefix']}.order.created.v1"
    event = order_event(event_type)
    attempts = 0
    released = asyncio.Event()

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 4:
            released.set()
        await session.execute(text("SET LOCAL lock_timeout = '50ms'"))
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))

    async with engine.connect() as holder:
        await holder.execute(text("LOCK TABLE effect IN ACCESS EXCLUSIVE MODE"))
        await kafka.produce_envelope(event)
        consumer = InboxConsumer(group=names["group"], topics=[names["topic"]], handlers={event_type: apply},
                                 sessionmaker=sessionmaker, inbox=inbox, settings=settings,
                                 max_attempts=2, backoff_base=0.05, backoff_max=0.1)
        background.start(consumer.run())
        await asyncio.wait_for(released.wait(), 20)
        await holder.rollback()

    async def committed() -> bool:
        return await kafka.committed(names["group"], TopicPartition(names["topic"], 0)) == 1

    await eventually(committed, within=20)
    assert await count(engine, effect, effect.c.event_id == event.id) == 1
    assert await kafka.end_offset(names["dlq"], 0) == 0, "a lock timeout is not the event's fault"


async def test_the_consumer_waits_for_a_broker_that_is_not_up_yet(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], settings: ServiceSettings,
    inbox: Table, effect: Table, own_broker: Any, make_probe: Any, background: Any, eventually: Any,
) -> None:
    late = settings.model_copy(update={"kafka_bootstrap": own_broker.bootstrap})
    event_type = "late.order.created.v1"

    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(effect.insert().values(event_id=envelope.id, note="applied"))

    consumer = InboxConsumer(group="late.on-orders", topics=["late.order"], handlers={event_type: apply},
                             sessionmaker=sessionmaker, inbox=inbox, settings=late)
    retries_before = REGISTRY.get_sample_value("odr_kafka_client_start_retries_total") or 0.0
    task = background.start(consumer.run())

    async def retried_twice() -> bool:
        retries = REGISTRY.get_sample_value("odr_kafka_client_start_retries_total") or 0.0
        return retries - retries_before >= 2

    await eventually(retried_twice)
    assert not task.done(), "a missing broker is waited for, not a crash"

    await own_broker.start()
    probe = make_probe(late.kafka_bootstrap)
    await probe.create({"late.order": 1, dlq_topic("late.on-orders"): 1})
    event = order_event(event_type)
    await probe.produce_envelope(event)

    async def applied() -> bool:
        return await count(engine, effect, effect.c.event_id == event.id) == 1

    await eventually(applied, within=20)
