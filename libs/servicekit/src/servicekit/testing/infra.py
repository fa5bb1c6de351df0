"""Session infrastructure for tests: which PostgreSQL, which broker, fresh migrated databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from servicekit import infra
from servicekit.db import asyncpg_dsn
from servicekit.events.kafka import ensure_topics
from servicekit.events.topics import all_topics

REPO_ROOT = Path(__file__).resolve().parents[5]
SERVICES_DIR = REPO_ROOT / "services"


@dataclass
class TestInfra:
    """Where the test session's PostgreSQL server and broker are; `database_url` has no database name."""

    __test__ = False

    database_url: str
    kafka_bootstrap: str
    children: list[infra.ChildProcess]

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()


def start_test_infra() -> TestInfra:
    """PostgreSQL: ODR_DATABASE_URL, else 127.0.0.1:5432 when reachable, else embedded. Broker: always our own."""
    children: list[infra.ChildProcess] = []
    work = Path(tempfile.mkdtemp(prefix="odr-test-"))
    database_url = os.environ.get("ODR_TEST_DATABASE_URL")
    if not database_url:
        if infra.port_open("127.0.0.1", 5432):
            database_url = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        else:
            port = infra.free_port()
            children.append(infra.start_postgres(work / "pgdata", port))
            database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    broker_port = infra.free_port()
    children.append(infra.start_broker(broker_port, work / "tansu.log"))
    return TestInfra(database_url=database_url, kafka_bootstrap=f"127.0.0.1:{broker_port}", children=children)


async def recreate_database(database_url: str, name: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(database_url: str, name: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def migrate(service: str, database_url: str, database_name: str) -> None:
    """`alembic upgrade head` for one service, as a subprocess, exactly as deployments run it."""
    env = {**os.environ, "ODR_DATABASE_URL": database_url, "ODR_DATABASE_NAME": database_name}
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(SERVICES_DIR / service / "alembic.ini"), "upgrade", "head"],
        check=True, env=env, cwd=SERVICES_DIR / service, capture_output=True,
    )


@asynccontextmanager
async def migrated_database(database_url: str, name: str, service: str) -> AsyncIterator[str]:
    """A database made from empty by the service's own migrations, dropped on exit."""
    await recreate_database(database_url, name)
    # Alembic's env.py runs its own event loop, so it runs in a subprocess off this loop.
    await asyncio.to_thread(migrate, service, database_url, name)
    try:
        yield name
    finally:
        await drop_database(database_url, name)


@asynccontextmanager
async def running_app(app: FastAPI, kafka_bootstrap: str) -> AsyncIterator[FastAPI]:
    """A service app with its lifespan running (relay, consumers, sweepers), its topics created first: the broker
    would otherwise auto-create them with one partition."""
    await ensure_topics(kafka_bootstrap, all_topics())
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        yield app


async def topic_reader(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started group-less consumer of every partition of `topic` from the beginning (no group join to wait for)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    await consumer.topics()  # refreshes the metadata that partitions_for_topic reads
    consumer.assign([TopicPartition(topic, partition) for partition in consumer.partitions_for_topic(topic) or ()])
    return consumer


@contextmanager
def own_broker() -> Iterator[str]:
    """A broker for one suite alone: a service suite's apps consume every event on their topics, so suites that
    share a broker would feed each other thousands of foreign events and slow each other's consumers down."""
    port = infra.free_port()
    broker = infra.start_broker(port, Path(tempfile.mkdtemp(prefix="odr-broker-")) / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        broker.stop()
