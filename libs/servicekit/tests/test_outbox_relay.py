"""The outbox relay against real PostgreSQL and the real broker: order per key, crash recovery, one leader."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.db import utcnow
from servicekit.events import relay as relay_module
from servicekit.events.envelope import EventEnvelope
from servicekit.events.kafka import make_producer
from servicekit.events.outbox import Outbox
from servicekit.events.relay import (
    HOLDS_LEADER_LOCK,
    IN_FLIGHT_BATCHES,
    OutboxRelay,
    RelayError,
    leader_lock_key,
    requeue_published,
)
from servicekit.settings import ServiceSettings


def make_events(event_type: str, keys: int, per_key: int) -> list[EventEnvelope]:
    """Events interleaved across keys, each carrying its position within its key."""
    subjects = [f"order-{index}" for index in range(keys)]
    return [
        EventEnvelope(source="/tests", type=event_type, subject=subject, data={"subject": subject, "n": n})
        for n in range(per_key)
        for subject in subjects
    ]


async def stage(engine: AsyncEngine, outbox: Outbox, events: Sequence[EventEnvelope]) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await outbox.add(session, *events)


async def published_count(engine: AsyncEngine, outbox: Outbox) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).where(outbox.table.c.published_at.is_not(None)))
    return count or 0


def event_ids(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[uuid.UUID]:
    return [EventEnvelope.from_kafka(record.headers, record.value).id for record in records]


def assert_first_deliveries_in_order(records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
    """Per key, the first delivery of each event comes in the order the events were written (duplicates may follow)."""
    positions: dict[str, list[int]] = defaultdict(list)
    seen: set[uuid.UUID] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = EventEnvelope.from_kafka(record.headers, record.value)
        assert record.key == envelope.subject.encode()
        if envelope.id in seen:
            continue
        seen.add(envelope.id)
        positions[envelope.subject].append(envelope.data["n"])
    for subject, order in positions.items():
        assert order == sorted(order), f"events of {subject} out of order: {order}"


async def test_relay_publishes_in_order_per_key_and_marks_rows(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background
) -> None:
    prefix = kafka.unique("relayorder")
    topic = f"{prefix}.order"
    await kafka.create({topic: 4})
    events = make_events(f"{prefix}.order.created.v1", keys=12, per_key=40)
    await stage(engine, outbox, events)
    published_before = REGISTRY.get_sample_value("odr_outbox_published_total", {"service": settings.service_name})

    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=50).run())
    records = await kafka.read_count(topic, len(events))

    assert sorted(event_ids(records)) == sorted(event.id for event in events)
    assert_first_deliveries_in_order(records)
    by_key: dict[bytes, set[int]] = defaultdict(set)
    for record in records:
        by_key[record.key].add(record.partition)
    assert all(len(partitions) == 1 for partitions in by_key.values()), "one key must map to one partition"
    assert await published_count(engine, outbox) == len(events)
    assert published_before is None
    assert REGISTRY.get_sample_value("odr_outbox_published_total", {"service": settings.service_name}) == len(events)


async def test_notify_wakes_the_relay_long_before_its_poll_interval(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background, eventually
) -> None:
    prefix = kafka.unique("relaynotify")
    await kafka.create({f"{prefix}.order": 1})
    relay = OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=60.0)
    background.start(relay.run())

    async def relay_sleeps() -> bool:
        # Its LISTEN and first drain are done: only a NOTIFY can wake it now, long before its 60 s poll.
        return relay.is_idle

    await eventually(relay_sleeps)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stage(engine, outbox, make_events(f"{prefix}.order.created.v1", keys=1, per_key=1))

    async def published() -> bool:
        return await published_count(engine, outbox) == 1

    await eventually(published, within=5.0)
    assert loop.time() - started < 2.0


async def test_a_commit_is_sent_while_the_batch_before_it_still_waits_for_the_broker(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka: Any, background: Any, eventually: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = kafka.unique("relayahead")
    topic = f"{prefix}.order"
    await kafka.create({topic: 1})
    first, second = make_events(f"{prefix}.order.created.v1", keys=1, per_key=2)
    released = asyncio.Event()

    def producer_with_held_acknowledgements(producer_settings: ServiceSettings) -> AIOKafkaProducer:
        """The real producer; the broker's acknowledgements reach the relay only once the test releases them."""
        producer = make_producer(producer_settings)
        send = producer.send

        async def held(delivered: asyncio.Future[Any]) -> Any:
            acknowledgement = await delivered
            await released.wait()
            return acknowledgement

        async def send_and_hold(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
            return asyncio.ensure_future(held(await send(*args, **kwargs)))

        monkeypatch.setattr(producer, "send", send_and_hold)
        return producer

    monkeypatch.setattr(relay_module, "make_producer", producer_with_held_acknowledgements)
    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=60.0).run())
    await stage(engine, outbox, [first])
    assert event_ids(await kafka.read_count(topic, 1)) == [first.id]

    # The first batch is on the broker, its acknowledgement held: the next commit is claimed and sent all the same.
    await stage(engine, outbox, [second])
    assert event_ids(await kafka.read_count(topic, 2, within=5.0)) == [first.id, second.id]
    assert await published_count(engine, outbox) == 0, "nothing is marked before its acknowledgement"

    released.set()

    async def both_published() -> bool:
        return await published_count(engine, outbox) == 2

    await eventually(both_published)


async def test_relay_killed_after_sending_but_before_marking_resumes_without_loss(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background, eventually
) -> None:
    prefix = kafka.unique("relaycrash")
    topic = f"{prefix}.order"
    await kafka.create({topic: 3})
    events = make_events(f"{prefix}.order.created.v1", keys=6, per_key=10)
    await stage(engine, outbox, events)

    # A SHARE lock lets the relay claim rows and send them, but blocks its UPDATE marking them published: the relay
    # is frozen in the crash window between the broker's acknowledgement and the commit, with the batch it claimed
    # and sent behind the first one (a backlog is sent IN_FLIGHT_BATCHES deep) in flight too.
    in_flight = IN_FLIGHT_BATCHES * 25
    async with engine.connect() as blocker:
        await blocker.execute(text("LOCK TABLE outbox IN SHARE MODE"))
        first = background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=25).run())
        sent_before_the_kill = await kafka.read_count(topic, in_flight)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await blocker.rollback()

    assert len(sent_before_the_kill) == in_flight
    assert await published_count(engine, outbox) == 0, "the killed batches must not be marked published"

    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=25).run())

    async def all_published() -> bool:
        return await published_count(engine, outbox) == len(events)

    await eventually(all_published)
    records = await kafka.read_count(topic, len(events) + in_flight)
    ids = event_ids(records)
    assert set(ids) == {event.id for event in events}, "no event may be lost"
    assert len(ids) == len(events) + in_flight, "exactly the killed batches are delivered twice"
    assert_first_deliveries_in_order(records)


async def test_relay_cancelled_between_batches_resumes_from_the_first_unmarked_row(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background, eventually
) -> None:
    prefix = kafka.unique("relaycancel")
    topic = f"{prefix}.order"
    await kafka.create({topic: 2})
    events = make_events(f"{prefix}.order.created.v1", keys=5, per_key=200)
    await stage(engine, outbox, events)

    first = background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=5).run())

    async def some_published() -> bool:
        return await published_count(engine, outbox) >= 5

    await eventually(some_published)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    marked_at_kill = await published_count(engine, outbox)
    assert marked_at_kill < len(events), "the relay must be killed while work remains"

    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=50).run())

    async def all_published() -> bool:
        return await published_count(engine, outbox) == len(events)

    await eventually(all_published)
    records = await kafka.read(topic, until=lambda got: {*event_ids(got)} >= {event.id for event in events})
    assert_first_deliveries_in_order(records)
    assert len(records) - len(events) <= IN_FLIGHT_BATCHES * 5, "at most the batches in flight are sent twice"


async def test_only_one_relay_leads_and_the_other_takes_over(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background, eventually
) -> None:
    prefix = kafka.unique("relayleader")
    topic = f"{prefix}.order"
    await kafka.create({topic: 1})
    relays = [OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=0.2) for _ in range(2)]
    tasks = [background.start(relay.run()) for relay in relays]

    async def one_leads() -> bool:
        return any(relay.is_leader for relay in relays)

    await eventually(one_leads)

    async def follower_retried() -> bool:
        return any(not relay.is_leader and relay.leadership_attempts >= 3 for relay in relays)

    await eventually(follower_retried)
    assert sum(relay.is_leader for relay in relays) == 1
    async with engine.connect() as connection:
        holders = await connection.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND ((classid::bigint << 32) | objid::bigint) = :key"),
            {"key": leader_lock_key(settings.service_name)},
        )
    assert holders == 1

    leader = next(index for index, relay in enumerate(relays) if relay.is_leader)
    tasks[leader].cancel()
    await asyncio.gather(tasks[leader], return_exceptions=True)
    follower = relays[1 - leader]

    async def follower_leads() -> bool:
        return follower.is_leader

    await eventually(follower_leads, within=5.0)
    events = make_events(f"{prefix}.order.created.v1", keys=1, per_key=3)
    await stage(engine, outbox, events)
    records = await kafka.read_count(topic, 3)
    assert event_ids(records) == [event.id for event in events]


async def test_requeue_published_makes_the_relay_publish_again(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka, background, eventually
) -> None:
    prefix = kafka.unique("relayrequeue")
    topic = f"{prefix}.order"
    await kafka.create({topic: 1})
    old = make_events(f"{prefix}.order.created.v1", keys=1, per_key=2)
    await stage(engine, outbox, old)
    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=0.1).run())
    await kafka.read_count(topic, 2)

    async def all_published() -> bool:
        return await published_count(engine, outbox) == 2

    await eventually(all_published)
    assert await requeue_published(engine, outbox.table, since=utcnow() + timedelta(minutes=1)) == 0
    assert await requeue_published(engine, outbox.table, since=utcnow() - timedelta(minutes=1)) == 2

    records = await kafka.read_count(topic, 4)
    assert event_ids(records) == [event.id for event in old] * 2
    await eventually(all_published)


async def test_a_broker_outage_records_the_failure_raises_for_the_supervisor_and_nothing_is_lost(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, own_broker: Any, make_probe: Any,
    background: Any,
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap": own_broker.bootstrap})
    await own_broker.start()
    probe = make_probe(own.kafka_bootstrap)
    await probe.create({"outage.order": 1})
    relay = OutboxRelay(engine=engine, outbox=outbox, settings=own, poll_interval=0.1, max_failures=1)
    running = background.start(relay.run())
    before, during = make_events("outage.order.created.v1", keys=1, per_key=2)
    await stage(engine, outbox, [before])
    await probe.read_count("outage.order", 1)
    await probe.close()

    own_broker.kill()
    await stage(engine, outbox, [during])
    with pytest.raises(RelayError):
        await asyncio.wait_for(running, 30)
    async with engine.connect() as connection:
        row = (await connection.execute(select(outbox.table).where(outbox.table.c.id == during.id))).one()
    assert (row.published_at, row.attempts) == (None, 1)
    assert row.last_error

    # As the runner and the supervisor would: topics created on the restarted (empty) broker, then a new relay.
    await own_broker.start()
    probe = make_probe(own.kafka_bootstrap)
    await probe.create({"outage.order": 1})
    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=own, poll_interval=0.1).run())
    records = await probe.read_count("outage.order", 1)
    assert event_ids(records) == [during.id]


async def test_a_row_the_broker_refuses_for_good_is_parked_and_the_rest_flows(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka: Any, background: Any, eventually: Any,
) -> None:
    prefix = kafka.unique("relaypark")
    topic = f"{prefix}.order"
    await kafka.create({topic: 1})
    before, after = make_events(f"{prefix}.order.created.v1", keys=1, per_key=2)
    # Over the producer's 1 MiB request limit: aiokafka refuses it before it reaches the broker, every time.
    too_large = EventEnvelope(source="/tests", type=f"{prefix}.order.created.v1", subject="order-0",
                              data={"subject": "order-0", "n": -1, "blob": "x" * 1_100_000})
    await stage(engine, outbox, [before, too_large, after])
    parked_before = REGISTRY.get_sample_value("odr_outbox_parked_total", {"service": settings.service_name}) or 0
    relay = OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=0.1)
    background.start(relay.run())

    records = await kafka.read_count(topic, 2)
    assert event_ids(records) == [before.id, after.id]

    async def parked_row() -> Any:
        async with engine.connect() as connection:
            return (await connection.execute(select(outbox.table).where(
                outbox.table.c.id == too_large.id, outbox.table.c.parked_at.is_not(None)))).one_or_none()

    async def is_parked() -> bool:
        return await parked_row() is not None

    await eventually(is_parked)
    row = await parked_row()
    assert row.published_at is None
    assert "MessageSizeTooLarge" in row.last_error
    assert REGISTRY.get_sample_value("odr_outbox_parked_total", {"service": settings.service_name}) == \
        parked_before + 1

    async def gauge_shows_it() -> bool:
        return REGISTRY.get_sample_value("odr_outbox_parked_rows", {"service": settings.service_name}) == 1

    await eventually(gauge_shows_it)
    assert await published_count(engine, outbox) == 2


async def test_a_relay_whose_leader_session_dies_mid_batch_marks_nothing_and_the_new_leader_publishes(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka: Any, background: Any, eventually: Any,
) -> None:
    prefix = kafka.unique("relayfence")
    topic = f"{prefix}.order"
    await kafka.create({topic: 1})
    events = make_events(f"{prefix}.order.created.v1", keys=2, per_key=10)
    await stage(engine, outbox, events)
    key = leader_lock_key(settings.service_name)

    async with engine.connect() as blocker:
        # Frozen after sending, before marking (the SHARE lock blocks the UPDATE), the leader loses its session.
        # Its backlog went out IN_FLIGHT_BATCHES batches deep.
        await blocker.execute(text("LOCK TABLE outbox IN SHARE MODE"))
        first = background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=5).run())
        await kafka.read_count(topic, 5)
        leader_pid = await blocker.scalar(
            text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key})
        assert leader_pid is not None
        await blocker.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": leader_pid})
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the dead session raises, the relay stops
            await asyncio.wait_for(first, 10)
        await blocker.rollback()
    assert await published_count(engine, outbox) == 0, "a relay without its session marked rows"

    second = OutboxRelay(engine=engine, outbox=outbox, settings=settings, batch_size=5, poll_interval=0.1)
    background.start(second.run())

    async def all_published() -> bool:
        return await published_count(engine, outbox) == len(events)

    await eventually(all_published)
    records = await kafka.read(topic, until=lambda got: {*event_ids(got)} >= {event.id for event in events})
    assert_first_deliveries_in_order(records)
    assert len(records) - len(events) <= IN_FLIGHT_BATCHES * 5, "only the frozen batches are sent twice"


async def test_the_fence_answers_whether_this_session_holds_the_leader_lock_and_leaves_it_as_it_was(
    engine: AsyncEngine, settings: ServiceSettings,
) -> None:
    key = leader_lock_key(settings.service_name)
    fence = text(f"SELECT {HOLDS_LEADER_LOCK}")
    holders = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                   "AND ((classid::bigint << 32) | objid::bigint) = :key")
    async with engine.connect() as leader, engine.connect() as other:
        await leader.execution_options(isolation_level="AUTOCOMMIT")
        await other.execution_options(isolation_level="AUTOCOMMIT")
        assert await other.scalar(fence, {"key": key}) is False, "nobody holds it: not held, and not taken either"
        assert await other.scalar(holders, {"key": key}) == 0
        # The leader takes it twice, as the relay does.
        assert await leader.scalar(select(func.pg_try_advisory_lock(key))) is True
        await leader.execute(select(func.pg_advisory_lock(key)))
        for _ in range(3):
            assert await leader.scalar(fence, {"key": key}) is True
        assert await other.scalar(fence, {"key": key}) is False, "another session holds it"
        assert await other.scalar(select(func.pg_try_advisory_lock(key))) is False, "still the leader's"
        # Released (what a lost session means for the lock): the fence says so and takes nothing back.
        await leader.scalar(select(func.pg_advisory_unlock_all()))
        assert await leader.scalar(fence, {"key": key}) is False
        assert await leader.scalar(holders, {"key": key}) == 0


async def test_the_backlog_and_the_age_of_the_oldest_unsent_event_are_measured_for_the_alerts(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings,
) -> None:
    [waiting] = make_events("relayage.order.created.v1", keys=1, per_key=1)
    await stage(engine, outbox, [waiting])
    async with engine.begin() as connection:
        await connection.execute(outbox.table.update().where(outbox.table.c.id == waiting.id)
                                 .values(created_at=utcnow() - timedelta(seconds=90)))
    relay = OutboxRelay(engine=engine, outbox=outbox, settings=settings, poll_interval=0.1)

    def oldest() -> float:
        return REGISTRY.get_sample_value("odr_outbox_oldest_unsent_seconds", {"service": settings.service_name}) or 0.0

    def backlog() -> float:
        return REGISTRY.get_sample_value("odr_outbox_backlog", {"service": settings.service_name}) or 0.0

    async with engine.connect() as connection:
        await relay._update_backlog(connection)
    assert oldest() >= 90
    waiting_before = backlog()
    assert waiting_before >= 1

    async with engine.begin() as connection:
        await connection.execute(outbox.table.update().where(outbox.table.c.id == waiting.id)
                                 .values(published_at=utcnow()))
    relay._backlog_counted_at = float("-inf")
    async with engine.connect() as connection:
        await relay._update_backlog(connection)
    assert oldest() < 90
    assert backlog() == waiting_before - 1
