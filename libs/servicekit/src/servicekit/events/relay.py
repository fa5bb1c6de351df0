"""Outbox relay: publishes a service's committed outbox rows to Kafka, in `seq` order, one leader per service; a row
the broker refuses for good is parked aside with its error, and the rest flows."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Row, Table, all_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from servicekit.db import utcnow
from servicekit.events.kafka import make_producer, start_client, stop_client
from servicekit.events.outbox import Outbox
from servicekit.observability import get_logger
from servicekit.settings import ServiceSettings

OUTBOX_PUBLISHED = Counter("odr_outbox_published_total", "Outbox events published to Kafka", ["service"])
OUTBOX_BACKLOG = Gauge("odr_outbox_backlog", "Outbox events not yet published (capped count)", ["service"])
OUTBOX_OLDEST_UNSENT = Gauge("odr_outbox_oldest_unsent_seconds",
                             "Age of the oldest outbox event not yet published (0 when none waits)", ["service"])
# Alert on any: a parked row is an event its consumers never got (`odr outbox parked`, then fix and replay).
OUTBOX_PARKED = Gauge("odr_outbox_parked_rows", "Outbox rows the broker refused for good, left aside", ["service"])
OUTBOX_PARKED_TOTAL = Counter("odr_outbox_parked_total", "Outbox rows parked since the process started", ["service"])
REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, TopicAuthorizationFailedError,
    CorruptRecordException,
)

# Counting beyond this adds nothing to an alert and would scan a huge backlog on every wake-up.
BACKLOG_COUNT_CAP = 100_000
# The backlog gauge is refreshed at most this often: a count per wake-up would cost a query per filing under load.
BACKLOG_REFRESH_SECONDS = 1.0
ERROR_TEXT_LIMIT = 2_000
# Rows are claimed and sent ahead while fewer than this many full batches wait for the broker's acknowledgements: a
# backlog drains two batches deep, and a broker that stops answering holds at most that much in the producer.
IN_FLIGHT_BATCHES = 2
# The fence: this session still holds the service's advisory lock. The leader holds it twice (session advisory locks
# count), so giving one back answers whether it was held and leaves it held, and taking it again restores the count;
# both touch only the session's own lock table, where reading pg_locks copied the server's whole lock table (0.7 ms a
# marking). A session that no longer holds it gets false (and PostgreSQL's warning that it owned no such lock). CASE
# fixes the order of the two calls.
HOLDS_LEADER_LOCK = "CASE WHEN pg_advisory_unlock(:key) THEN pg_try_advisory_lock(:key) ELSE false END"


class RelayError(RuntimeError):
    """Publishing kept failing; the supervisor restarts the relay with a fresh producer."""


def leader_lock_key(service_name: str) -> int:
    """A stable signed 64-bit advisory-lock key for the service (Python's hash() differs per process)."""
    digest = hashlib.blake2b(f"outbox-relay:{service_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class OutboxRelay:
    """Publishes unpublished outbox rows in `seq` order from the session holding the leader lock, then marks them."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Outbox,
        settings: ServiceSettings,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_failures: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.table: Table = outbox.table
        self.settings = settings
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_failures = max_failures
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.is_leader = False
        # Observable progress: how often it has asked for leadership, and whether it now sleeps until woken.
        self.leadership_attempts = 0
        self.is_idle = False
        self._lock_key = leader_lock_key(settings.service_name)
        table = self.table
        unpublished = (table.c.published_at.is_(None), table.c.parked_at.is_(None))
        self._claim = (select(table.c.seq, table.c.topic, table.c.aggregate_id, table.c.headers, table.c.payload)
                       .where(*unpublished, table.c.seq != all_(bindparam("in_flight", type_=ARRAY(BigInteger))))
                       .order_by(table.c.seq).limit(batch_size))
        # The fence and the marking in one statement (one round trip): rows are marked only while this session holds
        # the leader lock, and the answer says whether it did. A data-modifying WITH runs whether or not it is read.
        self._mark_published = text(
            f"WITH fence AS (SELECT {HOLDS_LEADER_LOCK} AS held), "
            f"marked AS (UPDATE {table.fullname} SET published_at = now() "
            "WHERE seq = ANY(CAST(:seqs AS bigint[])) AND (SELECT held FROM fence)) "
            "SELECT held FROM fence")
        self._holds_lock = text(f"SELECT {HOLDS_LEADER_LOCK}")
        # The alert gauges in one round trip.
        self._backlog = select(
            select(func.count()).select_from(select(table.c.seq).where(*unpublished).limit(BACKLOG_COUNT_CAP)
                                             .subquery()).scalar_subquery(),
            select(table.c.created_at).where(*unpublished).order_by(table.c.seq).limit(1).scalar_subquery(),
            select(func.count()).select_from(table).where(table.c.parked_at.is_not(None)).scalar_subquery(),
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._backlog_counted_at = float("-inf")
        self._log = get_logger("servicekit.relay").bind(relay=settings.service_name)

    async def run(self) -> None:
        """Wait to become the leader, then publish until cancelled; raises RelayError after repeated send failures."""
        async with self.engine.connect() as leader_connection:
            # Each statement of the leader's session commits on its own (no BEGIN and COMMIT round trips); between
            # statements the session is idle, so notifications reach it.
            await leader_connection.execution_options(isolation_level="AUTOCOMMIT")
            try:
                try:
                    await self._become_leader(leader_connection)
                except _StoppedWaiting:
                    return
                await self._listen(leader_connection)
                producer = await start_client(lambda: make_producer(self.settings))
                try:
                    await self._publish_forever(leader_connection, producer)
                finally:
                    await stop_client(producer)
            finally:
                self.is_leader = False
                # Closing the connection (not returning it to the pool) releases the lock and the LISTEN for sure.
                await leader_connection.invalidate()

    async def _become_leader(self, connection: AsyncConnection) -> None:
        lock = select(func.pg_try_advisory_lock(self._lock_key))
        while not (await self._try_lock(connection, lock)):
            await connection.commit()
            if self._stopping:
                raise _StoppedWaiting
            await asyncio.sleep(self.poll_interval)
        # The second hold the fence gives back and takes again (granted at once: this session already holds it).
        await connection.execute(select(func.pg_advisory_lock(self._lock_key)))
        # The lock is session-level; committing leaves the connection idle so notifications reach it.
        await connection.commit()
        self.is_leader = True
        self._log.info("outbox relay is the leader")

    async def _try_lock(self, connection: AsyncConnection, lock: Any) -> bool:
        self.leadership_attempts += 1
        return bool(await connection.scalar(lock))

    async def _listen(self, connection: AsyncConnection) -> None:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(self.outbox.notify_channel, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        """Publish what is committed, then return from `run` (the service is shutting down)."""
        self._stopping = True
        self._wake.set()

    async def _publish_forever(self, leader_connection: AsyncConnection, producer: AIOKafkaProducer) -> None:
        failures = 0
        while True:
            stopping = self._stopping
            self._wake.clear()
            try:
                await self._drain(leader_connection, producer)
                failures = 0
            except _SendFailed as exc:
                failures += 1
                await self._record_failure(leader_connection, exc)
                if failures >= self.max_failures:
                    raise RelayError(f"publishing failed {failures} times in a row: {exc.error!r}") from exc.error
                await asyncio.sleep(min(self.backoff_base * 2 ** (failures - 1), self.backoff_max))
                continue
            if stopping:
                self._log.info("outbox flushed; relay stopping")
                return
            await self._update_backlog(leader_connection)
            if self._stopping:
                continue  # asked while draining: one more drain publishes what was committed meanwhile
            self.is_idle = True
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                # A dead leader connection means the lock is gone too: stop, so leadership is contested afresh.
                await leader_connection.exec_driver_sql("SELECT 1")
                await leader_connection.commit()
                continue
            finally:
                self.is_idle = False

    async def _drain(self, leader_connection: AsyncConnection, producer: AIOKafkaProducer) -> None:
        """Claim, send and mark until nothing is left, without waiting for the broker between batches: a commit's
        wake-up has its rows claimed and sent while the batches before them still wait for their acknowledgements, and
        each batch is marked, in order, once its acknowledgements are in.

        A batch waiting for the broker (a broker round trip, far longer on a busy machine) used to hold back every row
        committed behind it. Every statement runs on the session that holds the leader lock and the marking re-checks
        that lock: a relay whose session is gone (so another relay may lead now) can neither read nor mark a batch, and
        no row lock or transaction is held while the sends wait. Rows acknowledged after a failed one, in its batch or
        in a batch sent behind it, are left unmarked and sent again with it, so per aggregate the first deliveries stay
        in commit order. A crash sends again what was in flight (at most IN_FLIGHT_BATCHES full batches), which
        the consumers' inboxes drop.
        """
        in_flight: deque[_InFlight] = deque()
        claim_due = True
        try:
            while True:
                if claim_due:
                    self._wake.clear()
                    rows = (await leader_connection.execute(self._claim, {
                        "in_flight": [seq for batch in in_flight for seq in batch.seqs]})).all()
                    await leader_connection.commit()
                    if rows:
                        in_flight.append(_InFlight.start(rows, await self._enqueue(producer, rows)))
                    backlog = len(rows) == self.batch_size
                while in_flight and in_flight[0].acknowledged.done():
                    await self._settle(leader_connection, in_flight.popleft().acknowledged.result())
                if not in_flight:
                    return
                if sum(len(batch.seqs) for batch in in_flight) >= IN_FLIGHT_BATCHES * self.batch_size:
                    await asyncio.wait({in_flight[0].acknowledged})
                    claim_due = False
                else:
                    claim_due = backlog or await self._woken_before(in_flight[0])
        except asyncio.CancelledError:
            for batch in in_flight:
                batch.acknowledged.cancel()
            raise
        except BaseException:
            # A failed batch: the ones sent behind it are awaited too, so no acknowledgement is left unobserved.
            await asyncio.gather(*(batch.acknowledged for batch in in_flight), return_exceptions=True)
            raise

    async def _woken_before(self, oldest: _InFlight) -> bool:
        """Wait for the oldest batch's acknowledgements or a commit's wake-up, whichever comes first."""
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({oldest.acknowledged, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        return woken in done

    async def _settle(self, leader_connection: AsyncConnection, sent: _Sent) -> None:
        """Mark what the broker acknowledged and park what it refused for good, then raise the batch's failure."""
        if sent.acknowledged or sent.refused:
            await self._mark_and_park(leader_connection, sent)
        if sent.failure is not None:
            raise sent.failure

    async def _mark_and_park(self, leader_connection: AsyncConnection, sent: _Sent) -> None:
        """Only while this relay still holds the leader lock: the marking statement checks the lock itself (no BEGIN,
        no separate check), and parking, which is rare, follows a check of its own."""
        table = self.table
        if sent.acknowledged:
            held = await leader_connection.scalar(self._mark_published, {"seqs": sent.acknowledged,
                                                                          "key": self._lock_key})
        else:
            held = await leader_connection.scalar(self._holds_lock, {"key": self._lock_key})
        await leader_connection.commit()
        if not held:
            raise RelayError("leadership lost while publishing; the batch is left for the new leader")
        for seq, error in sent.refused:
            await leader_connection.execute(
                update(table).where(table.c.seq == seq).values(
                    parked_at=func.now(), attempts=table.c.attempts + 1, last_error=repr(error)[:ERROR_TEXT_LIMIT]))
        await leader_connection.commit()
        OUTBOX_PUBLISHED.labels(self.settings.service_name).inc(len(sent.acknowledged))
        for seq, error in sent.refused:
            OUTBOX_PARKED_TOTAL.labels(self.settings.service_name).inc()
            self._log.error("outbox row refused by the broker for good; parked (odr outbox parked lists it)",
                            seq=seq, error=repr(error))

    async def _enqueue(self, producer: AIOKafkaProducer, rows: Sequence[Row[*tuple[Any, ...]]]) -> list[_Pending]:
        """Hand every row to the producer, in order, up to the first that fails for a reason not its own."""
        # Sends are enqueued one after another and awaited in the same order: aiokafka keeps one request in flight
        # per partition, so order per key holds; gathering coroutines instead would let them reorder.
        pending: list[_Pending] = []
        for row in rows:
            try:
                delivery = await producer.send(
                    row.topic,
                    key=row.aggregate_id.encode(),
                    value=orjson.dumps(row.payload),
                    headers=[(name, str(value).encode()) for name, value in row.headers.items()],
                )
            except Exception as exc:
                pending.append((row.seq, None, exc))
                if not refused_for_good(exc):
                    break
                continue
            pending.append((row.seq, delivery, None))
        return pending

    async def _record_failure(self, leader_connection: AsyncConnection, failure: _SendFailed) -> None:
        self._log.warning("publishing failed; the batch is sent again", error=repr(failure.error),
                          rows=len(failure.seqs))
        await leader_connection.execute(
            update(self.table)
            .where(self.table.c.seq.in_(failure.seqs))
            .values(attempts=self.table.c.attempts + 1, last_error=repr(failure.error)[:ERROR_TEXT_LIMIT])
        )
        await leader_connection.commit()

    async def _update_backlog(self, leader_connection: AsyncConnection) -> None:
        counted_at = asyncio.get_running_loop().time()
        if counted_at - self._backlog_counted_at < BACKLOG_REFRESH_SECONDS:
            return
        self._backlog_counted_at = counted_at
        backlog, oldest, parked = (await leader_connection.execute(self._backlog)).one()
        await leader_connection.commit()
        OUTBOX_BACKLOG.labels(self.settings.service_name).set(backlog or 0)
        OUTBOX_OLDEST_UNSENT.labels(self.settings.service_name).set(
            (utcnow() - oldest).total_seconds() if oldest is not None else 0)
        OUTBOX_PARKED.labels(self.settings.service_name).set(parked or 0)


def refused_for_good(error: BaseException) -> bool:
    """The broker (or the client, before sending) refuses this record whatever happens: retrying cannot help it,
    while the records behind it would wait forever. Anything else (connection, timeout, leader election) is the
    broker's state and is retried."""
    if isinstance(error, REFUSED_FOR_GOOD):
        return True
    # Not a Kafka error at all: the record could not even be built (serialisation of headers or value).
    return not isinstance(error, KafkaError)


_Pending = tuple[int, asyncio.Future[Any] | None, BaseException | None]


async def _acknowledgements(pending: list[_Pending]) -> _Sent:
    """Await the sends in order: what was acknowledged before the first failure that is not the row's own, which rows
    were refused for good, and that failure."""
    sent = _Sent()
    for seq, delivery, error in pending:
        if delivery is not None:
            try:
                await delivery
            except Exception as exc:
                error = exc
        if sent.failure is not None:
            continue  # awaited only so no acknowledgement is left unobserved
        if error is None:
            sent.acknowledged.append(seq)
        elif refused_for_good(error):
            sent.refused.append((seq, error))
        else:
            sent.failure = _SendFailed([seq], error)
    return sent


@dataclass(frozen=True)
class _InFlight:
    """A batch handed to the producer: its rows' seqs (left out of the next claim) and its acknowledgements."""

    seqs: list[int]
    acknowledged: asyncio.Task[_Sent]

    @classmethod
    def start(cls, rows: Sequence[Row[*tuple[Any, ...]]], pending: list[_Pending]) -> _InFlight:
        return cls([row.seq for row in rows], asyncio.create_task(_acknowledgements(pending)))


@dataclass
class _Sent:
    acknowledged: list[int] = field(default_factory=list)
    refused: list[tuple[int, BaseException]] = field(default_factory=list)
    failure: _SendFailed | None = None


class _StoppedWaiting(Exception):
    """Asked to stop while another relay leads: nothing of ours to flush."""


class _SendFailed(Exception):
    def __init__(self, seqs: list[int], error: BaseException) -> None:
        super().__init__(repr(error))
        self.seqs = seqs
        self.error = error


async def requeue_published(engine: AsyncEngine, outbox_table: Table, since: datetime | None = None) -> int:
    """Mark rows published since `since` (all when None) unpublished again, so the relay re-publishes them."""
    statement = update(outbox_table).where(outbox_table.c.published_at.is_not(None)).values(published_at=None)
    if since is not None:
        statement = statement.where(outbox_table.c.published_at >= since)
    async with engine.begin() as connection:
        result = await connection.execute(statement)
    return result.rowcount
