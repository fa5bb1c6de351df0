"""Fixtures of the event-spine tests: a migrated database, unique topics, Kafka probes, background tasks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from alembic import command
from alembic.config import Config
from sqlalchemy import BigInteger, Column, Identity, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit import infra
from servicekit.db import create_engine, create_sessionmaker, new_metadata
from servicekit.events.envelope import EventEnvelope
from servicekit.events.kafka import ensure_topics
from servicekit.events.outbox import Outbox
from servicekit.events.tables import inbox_table, outbox_table
from servicekit.settings import ServiceSettings
from servicekit.testing.infra import drop_database, recreate_database

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = new_metadata()
OUTBOX = outbox_table(metadata)
INBOX = inbox_table(metadata)
EFFECT = Table(
    "effect",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("note", Text, nullable=False),
)


@pytest.fixture(scope="session")
async def spine_database(database_url: str, db_prefix: str) -> AsyncIterator[str]:
    """A database for these tests, migrated by Alembic from tests/migrations."""
    name = f"{db_prefix}_servicekit"
    await recreate_database(database_url, name)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = ServiceSettings(database_url=database_url, database_name=name)
    # env.py runs its own event loop (asyncio.run), so it needs a thread of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
    yield name
    await drop_database(database_url, name)


@pytest.fixture
def settings(database_url: str, spine_database: str, kafka_bootstrap: str) -> ServiceSettings:
    """Settings of a fresh service name per test, so advisory locks and NOTIFY channels never cross tests."""
    return ServiceSettings(
        service_name=f"sk-{uuid.uuid4().hex[:8]}",
        database_url=database_url,
        database_name=spine_database,
        kafka_bootstrap=kafka_bootstrap,
        environment="test",
        log_json=False,
    )


@pytest.fixture
async def engine(settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, whose tables start empty."""
    engine = create_engine(settings, pool_size=5)
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE outbox, inbox, effect"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def outbox(settings: ServiceSettings) -> Outbox:
    return Outbox(OUTBOX, settings.service_name)


@pytest.fixture
def inbox() -> Table:
    return INBOX


@pytest.fixture
def effect() -> Table:
    """Rows written by test handlers: one per handler run, so a duplicate application shows."""
    return EFFECT


class BackgroundTasks:
    """Runs coroutines as tasks; whatever still runs at the end of the test is cancelled."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self.tasks.append(task)
        return task

    async def cancel_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def background() -> AsyncIterator[BackgroundTasks]:
    tasks = BackgroundTasks()
    yield tasks
    await tasks.cancel_all()


Check = Callable[[], Awaitable[bool]]


async def _eventually(check: Check, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    """`await eventually(check, within=...)` waits until the async `check` holds, or fails the test."""
    return _eventually


async def _never(check: Check, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            raise AssertionError("the condition held, and it never should")
        await asyncio.sleep(0.05)


@pytest.fixture
def never() -> Callable[..., Awaitable[None]]:
    """`await never(check, within=...)` watches the async `check` for that long and fails the moment it holds.

    An absence can only be watched for a while; this watches all along instead of looking once after a sleep.
    """
    return _never


class KafkaProbe:
    """Test-side Kafka access: create topics, produce raw messages, read topics from the start, read commits."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._clients: list[AIOKafkaProducer | AIOKafkaConsumer] = []
        self._producer: AIOKafkaProducer | None = None

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    async def create(self, topics: dict[str, int]) -> None:
        await ensure_topics(self.bootstrap, topics)

    async def produce(self, topic: str, *, key: bytes | None, value: bytes,
                      headers: list[tuple[str, bytes]] | None = None) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=2)
            await self._producer.start()
            self._clients.append(self._producer)
        await self._producer.send_and_wait(topic, key=key, value=value, headers=headers or [])

    async def produce_envelope(self, envelope: EventEnvelope, topic: str | None = None) -> None:
        await self.produce(topic or envelope.topic, key=envelope.subject.encode(), value=envelope.kafka_value(),
                           headers=envelope.kafka_headers())

    async def read(self, topic: str, *, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
                   within: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
        """Read every partition of `topic` from the beginning (no group) until `until(records)` holds."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=50)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            assert partitions, f"topic {topic} has no partitions"
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[ConsumerRecord[bytes, bytes]] = []
            deadline = time.monotonic() + within
            while not until(records):
                if time.monotonic() > deadline:
                    raise AssertionError(f"read {len(records)} records from {topic} within {within}s; wanted more")
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records.extend(batch)
            return records
        finally:
            await consumer.stop()

    async def read_count(self, topic: str, count: int, within: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
        return await self.read(topic, until=lambda records: len(records) >= count, within=within)

    async def committed(self, group: str, partition: TopicPartition) -> int | None:
        """The group's committed offset, read by a consumer that never joins the group (it has no subscription)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            offset: int | None = await consumer.committed(partition)
            return offset
        finally:
            await consumer.stop()

    async def partitions(self, topic: str) -> set[int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            await consumer.topics()  # fetches fresh metadata for every topic
            return set(consumer.partitions_for_topic(topic) or ())
        finally:
            await consumer.stop()

    async def end_offset(self, topic: str, partition: int) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            offsets: dict[TopicPartition, int] = await consumer.end_offsets([tp])
            return offsets[tp]
        finally:
            await consumer.stop()

    async def close(self) -> None:
        clients, self._clients, self._producer = self._clients, [], None
        for client in clients:
            await client.stop()


class OwnBroker:
    """A Tansu broker of the test's own, on a port fixed before it starts, so clients can be started first."""

    def __init__(self, log_path: Path) -> None:
        self.port = infra.free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self._child: infra.ChildProcess | None = None

    async def start(self) -> None:
        self._child = await asyncio.to_thread(infra.start_broker, self.port, self.log_path)

    def kill(self) -> None:
        """A crash, not a shutdown (a graceful stop also takes seconds): memory storage loses every topic."""
        if self._child is not None:
            self._child.process.kill()
            self._child.process.wait()
            self._child = None


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "tansu.log")
    yield broker
    broker.kill()


@pytest.fixture
async def make_probe() -> AsyncIterator[Callable[[str], KafkaProbe]]:
    """Probes for brokers a test starts itself."""
    probes: list[KafkaProbe] = []

    def make(bootstrap: str) -> KafkaProbe:
        probes.append(KafkaProbe(bootstrap))
        return probes[-1]

    yield make
    for probe in probes:
        await probe.close()


@pytest.fixture
def kafka(kafka_bootstrap: str, make_probe: Callable[[str], KafkaProbe]) -> KafkaProbe:
    """A probe of the session's broker."""
    return make_probe(kafka_bootstrap)
