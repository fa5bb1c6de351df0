"""Inbox consumer: applies each event once, commits the offset after the database, dead-letters what its handler keeps
rejecting (never what failed because of the database)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry.trace import SpanKind
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge
from sqlalchemy import Executable, Table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.dbfailures import is_transient_database_failure
from servicekit.events.envelope import EventEnvelope
from servicekit.events.kafka import make_consumer, make_producer, set_fetch_wait, start_client, stop_client
from servicekit.events.topics import dlq_topic
from servicekit.observability import causation_id_var, correlation_id_var, get_logger
from servicekit.settings import ServiceSettings
from servicekit.tracing import span_from

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]

DLQ_ORIGINAL_TOPIC = "dlq-original-topic"
DLQ_ORIGINAL_PARTITION = "dlq-original-partition"
DLQ_ORIGINAL_OFFSET = "dlq-original-offset"
DLQ_ERROR = "dlq-error"
DLQ_ATTEMPTS = "dlq-attempts"
DLQ_GROUP = "dlq-group"

COMMIT_TIMEOUT = 10.0
# While records flow, a group commits its offsets at most this often, and at once when a poll finds nothing or the
# consumer stops. A commit per fetch was a broker request per fetch and group, ten a second for every busy group;
# what a restart reads again because it was applied but not yet committed, the inbox drops as duplicates.
OFFSET_COMMIT_INTERVAL_SECONDS = 1.0
# How long a fetch applied in one transaction waits for any lock before it gives up and is applied event by event.
BATCH_LOCK_TIMEOUT_MS = 200
POLL_TIMEOUT_MS = 1_000
ERROR_TEXT_LIMIT = 2_000

# Where a consumer's transaction keeps what its handlers queued: rows by statement (`queue_write`), items by
# follow-up (`queue_follow_up`).
_QUEUED_WRITES = "servicekit.inbox.queued_writes"

INBOX_EVENTS = MetricCounter("odr_inbox_events_total", "Events handled by inbox consumers", ["group", "outcome"])
CONSUMER_LAG = Gauge("odr_consumer_lag", "Messages of a partition after the last one a group handled",
                     ["group", "topic", "partition"])


# What a follow-up of queued writes is called with: the transaction's session and every item queued for it, in order.
FollowUp = Callable[[AsyncSession, list[Any]], Awaitable[None]]


def queue_write(session: AsyncSession, statement: Executable, parameters: dict[str, Any]) -> None:
    """Have `statement` run with `parameters` when the consumer's handlers are done, together with every other
    execution of it queued in the same transaction: one round trip for the fetch instead of one per event.

    For writes nothing later in the transaction reads (or that a reader first writes with `write_queued`). Each
    statement runs as one executemany, its rows in the order queued (each row its own execution, so two rows may
    touch the same key), the statements in the order first queued. Only inside an inbox consumer's transaction,
    which is the one that runs them; anywhere else this raises rather than lose the write.
    """
    _queue(session, "queue_write").setdefault(statement, []).append(parameters)


def queue_follow_up(session: AsyncSession, follow_up: FollowUp, item: Any) -> None:
    """Have `follow_up` called once, with `item` and every other item queued for it in this transaction, when the
    writes queued before its first item have run: the work that reads what they wrote (one statement for the fetch
    instead of one per event). It may queue writes of its own; they run after it."""
    _queue(session, "queue_follow_up").setdefault(follow_up, []).append(item)


def _queue(session: AsyncSession, caller: str) -> dict[Executable | FollowUp, list[Any]]:
    queued: dict[Executable | FollowUp, list[Any]] | None = session.info.get(_QUEUED_WRITES)
    if queued is None:
        raise RuntimeError(f"{caller} is for handlers running in an inbox consumer's transaction")
    return queued


@contextlib.asynccontextmanager
async def queueing_writes(session: AsyncSession) -> AsyncIterator[None]:
    """Where handlers run: what they queue (`queue_write`, `queue_follow_up`) is written and followed up when the
    block ends without an error."""
    session.info[_QUEUED_WRITES] = {}
    try:
        yield
        await write_queued(session)
    finally:
        del session.info[_QUEUED_WRITES]


async def write_queued(session: AsyncSession) -> None:
    """Run what this transaction queued so far, in the order first queued: each statement once with all its rows
    (`queue_write`), each follow-up once with all its items (`queue_follow_up`)."""
    queued: dict[Executable | FollowUp, list[Any]] = session.info.get(_QUEUED_WRITES, {})
    while queued:
        work, items = next(iter(queued.items()))
        del queued[work]
        if isinstance(work, Executable):
            await session.execute(work, items)
        else:
            await work(session, items)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"


class InboxConsumer:
    """Consumes `topics` as `group`: each event's inbox row and handler in a transaction, then the offset commit.

    The messages of one fetch, all its partitions, are applied in one transaction: one multi-row inbox insert (which
    drops the events already applied), each new event's handler in partition order, what the handlers queued (each
    `queue_write` statement once for all its rows, each `queue_follow_up` once for all its items, in the order first
    queued) and one commit, where one event at a time would cost a transaction each. The offsets follow
    (OFFSET_COMMIT_INTERVAL_SECONDS). When anything in that transaction fails it is rolled back whole and the
    partitions are taken side by side, each message in a transaction of its own, with retries and the dead-letter
    topic, exactly as if they had come alone.
    """

    def __init__(
        self,
        *,
        group: str,
        topics: list[str],
        handlers: dict[str, Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Table,
        settings: ServiceSettings,
        max_attempts: int = 5,
        max_infrastructure_attempts: int = 12,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self.group = group
        self.topics = topics
        self.handlers = handlers
        self.sessionmaker = sessionmaker
        self.inbox = inbox
        self.settings = settings
        self.max_attempts = max_attempts
        self.max_infrastructure_attempts = max_infrastructure_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._log = get_logger("servicekit.inbox").bind(group=group)
        self._stopping = False
        # Offsets applied (their transactions committed) but not yet committed to the broker.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._offsets_committed_at = time.monotonic()
        # Observable: the broker-side wait of the next fetch (long while the topics are quiet, short while they flow).
        self.fetch_wait_ms = settings.kafka_fetch_max_wait_ms
        # One statement shape whatever the fetch's size, so it is prepared once per connection; it also sets the
        # batch's lock timeout for the rest of the transaction (set_config(..., true) is SET LOCAL), a round trip less.
        self._record_many = text(
            "WITH limited AS (SELECT set_config('lock_timeout', :lock_timeout, true)) "
            f"INSERT INTO {inbox.fullname} (consumer_group, event_id, event_type) "
            "SELECT :group, fetched.event_id, fetched.event_type "
            "FROM limited, unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS varchar[])) "
            "AS fetched(event_id, event_type) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )

    async def run(self) -> None:
        """Consume until cancelled; raises when the database or broker stays unreachable (the supervisor restarts)."""
        producer = await start_client(lambda: make_producer(self.settings))
        try:
            consumer = await start_client(lambda: make_consumer(self.settings, self.group, self.topics))
            try:
                busy_wait = self.settings.kafka_fetch_max_wait_ms
                idle_wait = max(self.settings.kafka_idle_fetch_max_wait_ms, busy_wait)
                while not self._stopping:
                    batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
                    # Tansu holds every fetch for its whole wait when nothing comes, so an idle group's cost is its
                    # fetch rate: a poll that found nothing for a second lengthens the wait, the first records
                    # shorten it again (set before the next fetch is sent, which waits for these to be taken).
                    self.fetch_wait_ms = busy_wait if batches else idle_wait
                    set_fetch_wait(consumer, self.fetch_wait_ms)
                    if batches:
                        await self._process_batches(consumer, producer, batches)
                    if self._uncommitted and (not batches or time.monotonic() - self._offsets_committed_at
                                              >= OFFSET_COMMIT_INTERVAL_SECONDS):
                        await self._commit(consumer, {})
                await self._commit(consumer, {})
                self._log.info("consumer stopping; offsets committed")
            finally:
                await stop_client(consumer)
        finally:
            await stop_client(producer)

    def request_stop(self) -> None:
        """Finish the fetch in hand (its transactions and its offset commit), then return from `run`; leaving the
        group on the way out hands the partitions to the other members at once."""
        self._stopping = True

    async def _process_batches(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        """The whole fetch in one transaction; when that transaction fails, its partitions side by side, each event
        in a transaction of its own (retries, dead-letter topic). Their offsets are then due for the next commit.

        Events of one key share a partition, so order per key holds either way.
        """
        assigned = consumer.assignment()
        batches = {partition: messages for partition, messages in batches.items() if partition in assigned}
        if sum(map(len, batches.values())) > 1 and await self._apply_together(batches):
            offsets = {partition: int(messages[-1].offset) + 1 for partition, messages in batches.items()}
        else:
            offsets = await self._process_one_by_one(consumer, producer, batches)
        self._uncommitted.update(offsets)
        self._record_lag(consumer, offsets)

    async def _process_one_by_one(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> dict[TopicPartition, int]:
        """Partitions side by side, each in its own order; the offsets to commit after them.

        A failure cancels the other partitions' work, whose committed transactions are replayed after the restart
        and dropped by the inbox as duplicates.
        """
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {partition: group.create_task(self._process_partition(consumer, producer, partition, messages))
                         for partition, messages in batches.items()}
        except ExceptionGroup as failed:
            # The supervisor (and its log) should see the failure itself, as with one partition at a time.
            raise failed.exceptions[0] from failed
        return {partition: offset for partition, task in tasks.items() if (offset := task.result()) is not None}

    def _record_lag(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """How far each partition just handled stands behind its end (the high watermark this fetch saw)."""
        for partition, next_offset in offsets.items():
            end = consumer.highwater(partition)
            if end is not None:
                lag = max(end - next_offset, 0)
                CONSUMER_LAG.labels(self.group, partition.topic, str(partition.partition)).set(lag)

    async def _process_partition(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        partition: TopicPartition,
        messages: list[ConsumerRecord[bytes, bytes]],
    ) -> int | None:
        """Handle the messages strictly one after another; the offset to commit after them, if any is left to."""
        # The offset is committed only for messages whose transaction has committed (or that were dead-lettered).
        next_offset: int | None = None
        for message in messages:
            if partition not in consumer.assignment():
                break  # revoked by a rebalance: its new owner resumes from the last committed offset
            outcome = await self._process(producer, message)
            next_offset = message.offset + 1
            if outcome is Outcome.DEAD_LETTERED:
                # Commit at once after the slow path, so a run of poison messages never replays from the start.
                await self._commit(consumer, {partition: next_offset})
                next_offset = None
        return next_offset

    async def _process(self, producer: AIOKafkaProducer, message: ConsumerRecord[bytes, bytes]) -> Outcome:
        try:
            envelope = EventEnvelope.from_kafka(message.headers, message.value or b"")
        except Exception as exc:
            # Retrying cannot make an unreadable message readable.
            return await self._dead_letter(producer, message, exc, attempts=1)
        handler = self.handlers.get(envelope.type)
        if handler is None:
            INBOX_EVENTS.labels(self.group, Outcome.SKIPPED).inc()
            return Outcome.SKIPPED
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._apply(envelope, handler)
            except Exception as exc:
                # A lock timeout, deadlock, serialization failure or lost connection says nothing about the event:
                # it gets a budget of its own and, once that is spent, stops the consumer (the supervisor restarts
                # it from the committed offset) instead of dead-lettering a good event.
                infrastructure = is_transient_database_failure(exc)
                budget = self.max_infrastructure_attempts if infrastructure else self.max_attempts
                if attempt < budget:
                    delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
                    self._log.warning("handler failed; retrying", event_id=str(envelope.id), event_type=envelope.type,
                                      attempt=attempt, in_seconds=delay, error=repr(exc),
                                      infrastructure=infrastructure)
                    await asyncio.sleep(delay)
                    continue
                if infrastructure:
                    raise
                return await self._dead_letter(producer, message, exc, attempts=attempt)
            INBOX_EVENTS.labels(self.group, outcome).inc()
            return outcome

    async def _apply_together(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> bool:
        """Every message of the fetch in one transaction, each partition in its order: one multi-row inbox insert
        drops the events already applied, then each new event's handler. False (and nothing written) when any of
        it fails."""
        try:
            envelopes = [EventEnvelope.from_kafka(message.headers, message.value or b"")
                         for messages in batches.values() for message in messages]
        except Exception as exc:
            self._log.info("unreadable message in the fetch; applying its events one by one", error=repr(exc))
            return False
        outcomes: Counter[Outcome] = Counter()
        handled: list[tuple[EventEnvelope, Handler]] = []
        for envelope in envelopes:
            handler = self.handlers.get(envelope.type)
            if handler is None:
                outcomes[Outcome.SKIPPED] += 1
            else:
                handled.append((envelope, handler))
        if handled:
            try:
                async with self.sessionmaker() as session, session.begin(), queueing_writes(session):
                    # A use case takes its locks in the platform's order (its case, then shared rows such as a
                    # region's audit-chain head); a fetch of several cases' events takes them in arrival order, and
                    # may cross a request's. Giving up on a lock long before PostgreSQL's deadlock check (1 s) makes
                    # this transaction, never the request, the one that yields; its events are then applied one by
                    # one. The insert of the fetch's inbox rows sets that limit for the transaction (SET LOCAL).
                    new = await self._record_in_inbox(session, [envelope for envelope, _ in handled])
                    for envelope, handler in handled:
                        if envelope.id not in new:
                            outcomes[Outcome.DUPLICATE] += 1
                            continue
                        new.discard(envelope.id)  # the same event twice in one fetch is applied once
                        await self._handle(session, envelope, handler)
                        outcomes[Outcome.APPLIED] += 1
            except Exception as exc:
                self._log.info("batch rolled back; applying its events one by one", events=len(envelopes),
                               error=repr(exc))
                return False
        for outcome, events in outcomes.items():
            INBOX_EVENTS.labels(self.group, outcome).inc(events)
        return True

    async def _record_in_inbox(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> set[uuid.UUID]:
        """Insert the inbox rows of `envelopes` in one statement; the ids that were new (the others are duplicates)."""
        inserted = await session.execute(self._record_many, {
            "group": self.group,
            "lock_timeout": f"{BATCH_LOCK_TIMEOUT_MS}ms",
            "event_ids": [envelope.id for envelope in envelopes],
            "event_types": [envelope.type for envelope in envelopes],
        })
        return set(inserted.scalars())

    async def _apply(self, envelope: EventEnvelope, handler: Handler) -> Outcome:
        """The event in a transaction of its own."""
        async with self.sessionmaker() as session, session.begin():
            return await self._apply_in(session, envelope, handler)

    async def _apply_in(self, session: AsyncSession, envelope: EventEnvelope, handler: Handler) -> Outcome:
        """Insert the inbox row and run the handler in the caller's transaction; a known event id is a duplicate."""
        record = (
            insert(self.inbox)
            .values(consumer_group=self.group, event_id=envelope.id, event_type=envelope.type)
            .on_conflict_do_nothing()
            .returning(self.inbox.c.event_id)
        )
        if (await session.execute(record)).first() is None:
            return Outcome.DUPLICATE
        async with queueing_writes(session):
            await self._handle(session, envelope, handler)
        return Outcome.APPLIED

    async def _handle(self, session: AsyncSession, envelope: EventEnvelope, handler: Handler) -> None:
        """Run the handler in the caller's transaction, in the event's correlation and trace."""
        correlation = correlation_id_var.set(envelope.correlationid or str(envelope.id))
        causation = causation_id_var.set(str(envelope.id))
        try:
            # The span continues the trace of the request that published the event: across Kafka, one trace.
            with structlog.contextvars.bound_contextvars(
                correlation_id=correlation_id_var.get(), event_id=str(envelope.id), event_type=envelope.type
            ), span_from(envelope.traceparent, f"consume {envelope.type}", kind=SpanKind.CONSUMER, attributes={
                "messaging.system": "kafka", "messaging.destination.name": envelope.topic,
                "messaging.consumer.group.name": self.group, "messaging.message.id": str(envelope.id),
            }):
                await handler(session, envelope)
        finally:
            correlation_id_var.reset(correlation)
            causation_id_var.reset(causation)

    async def _dead_letter(
        self, producer: AIOKafkaProducer, message: ConsumerRecord[bytes, bytes], error: BaseException, *, attempts: int
    ) -> Outcome:
        headers = [
            *(message.headers or ()),
            (DLQ_ORIGINAL_TOPIC, message.topic.encode()),
            (DLQ_ORIGINAL_PARTITION, str(message.partition).encode()),
            (DLQ_ORIGINAL_OFFSET, str(message.offset).encode()),
            (DLQ_ERROR, f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT].encode()),
            (DLQ_ATTEMPTS, str(attempts).encode()),
            (DLQ_GROUP, self.group.encode()),
        ]
        # A failure here propagates: the offset stays uncommitted and the message comes back after the restart.
        await producer.send_and_wait(dlq_topic(self.group), key=message.key, value=message.value, headers=headers)
        self._log.error("message sent to the dead-letter topic", topic=message.topic, partition=message.partition,
                        offset=message.offset, attempts=attempts, error=repr(error))
        INBOX_EVENTS.labels(self.group, Outcome.DEAD_LETTERED).inc()
        return Outcome.DEAD_LETTERED

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit `offsets` and every offset still due; a partition's offset only ever moves forward."""
        offsets = {**self._uncommitted, **offsets}
        self._uncommitted.clear()
        self._offsets_committed_at = time.monotonic()
        # Only partitions still assigned: committing a revoked one fails the whole request.
        assigned = consumer.assignment()
        offsets = {partition: offset for partition, offset in offsets.items() if partition in assigned}
        if not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), COMMIT_TIMEOUT)
        except (CommitFailedError, IllegalStateError) as exc:
            # A partition moved to another member; it re-reads from the last commit and the inbox drops repeats.
            self._log.warning("offset commit refused after a rebalance", partitions=sorted(map(str, offsets)),
                              error=repr(exc))

