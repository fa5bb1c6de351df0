"""aiokafka clients configured for both Apache Kafka and the embedded Tansu broker (architecture.md §7)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from servicekit.settings import ServiceSettings


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service_name}-producer",
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=2,
        request_timeout_ms=10_000,
    )


def make_consumer(settings: ServiceSettings, group: str, topics: list[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        client_id=f"{settings.service_name}-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_records=200,
    )


async def broker_reachable(bootstrap: str, within: float = 1.0) -> None:
    """Raise unless a TCP connection to the first bootstrap server opens in time."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    _, writer = await asyncio.wait_for(asyncio.open_connection(host or "127.0.0.1", int(port)), within)
    writer.close()
    await writer.wait_closed()


async def ensure_topics(bootstrap: str, topics: dict[str, int], replication_factor: int = 1) -> None:
    """Create topics explicitly (Tansu auto-creates with 4 partitions); existing topics are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        for name, partitions in topics.items():
            try:
                await admin.create_topics([NewTopic(name, partitions, replication_factor)])
            except TopicAlreadyExistsError:
                continue
    finally:
        await admin.close()
