"""aiokafka clients configured for both Apache Kafka and the embedded Tansu broker (architecture.md §7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from prometheus_client import Counter

from servicekit.observability import get_logger
from servicekit.settings import ServiceSettings

KafkaClient = TypeVar("KafkaClient", AIOKafkaProducer, AIOKafkaConsumer)
STOP_TIMEOUT = 5.0
SESSION_TIMEOUT_MS = 6000
CLIENT_START_RETRIES = Counter("odr_kafka_client_start_retries_total",
                               "Kafka clients that could not reach the broker on start and were retried")


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    """Bootstrap servers and, on an authenticated listener, TLS and SASL: what every client of the service shares."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap,
                               "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file
                                                    else None)
    if settings.kafka_security_protocol.startswith("SASL"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism or "SCRAM-SHA-512",
                       sasl_plain_username=settings.kafka_username,
                       sasl_plain_password=settings.kafka_password.get_secret_value()
                       if settings.kafka_password else None)
    return options


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **connection_options(settings),
        client_id=f"{settings.service_name}-producer",
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=2,
        request_timeout_ms=10_000,
    )


def make_consumer(settings: ServiceSettings, group: str, topics: list[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        **connection_options(settings),
        group_id=group,
        client_id=f"{settings.service_name}-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        # A third of the session, Kafka's rule of thumb: a member is still declared dead after the same 6 s, and an
        # idle group sends half the heartbeats it did at 1 s (a rebalance reaches the others one heartbeat later).
        heartbeat_interval_ms=SESSION_TIMEOUT_MS // 3,
        # How often aiokafka's fetch loop wakes with nothing to do (default 0.2 s): replies, assignments, metadata
        # and consumed records wake it through futures, so the timer only costs an idle consumer five wake-ups a second.
        consumer_timeout_ms=1000,
        max_poll_records=200,
    )


def set_fetch_wait(consumer: AIOKafkaConsumer, wait_ms: int) -> None:
    """The broker-side wait of the consumer's next fetch requests. aiokafka reads it each time it builds one and
    offers no public setter; reading it first makes a renamed attribute fail here rather than be set unread."""
    fetcher = consumer._fetcher
    if fetcher._fetch_max_wait_ms != wait_ms:
        fetcher._fetch_max_wait_ms = wait_ms


async def ensure_topics(bootstrap: str, topics: dict[str, int], replication_factor: int = 1) -> None:
    """Create topics explicitly (Tansu auto-creates with 4 partitions); existing topics are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        try:
            response = await admin.create_topics(
                [NewTopic(name, partitions, replication_factor) for name, partitions in topics.items()]
            )
        except TopicAlreadyExistsError:
            return
        # Brokers report per-topic failures in the response rather than raising them.
        for name, error_code, error_message in response.topic_errors:
            if error_code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(error_code)(f"cannot create topic {name}: {error_message}")
    finally:
        await admin.close()


async def start_client(factory: Callable[[], KafkaClient], *, backoff_max: float = 5.0) -> KafkaClient:
    """Start a new client from `factory`, retrying while the broker is unreachable (a new client fails at once)."""
    log = get_logger("servicekit.kafka")
    backoff = 0.1
    while True:
        client = factory()
        try:
            await client.start()
            return client
        except BaseException as exc:
            # Stop the half-started client on every exit, cancellation included, so no connection leaks.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), STOP_TIMEOUT)
            if not isinstance(exc, KafkaError):
                raise
            CLIENT_START_RETRIES.inc()
            log.warning("broker not reachable; retrying", error=str(exc), in_seconds=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, backoff_max)


async def stop_client(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    """Stop a client without hanging on a broker that is gone."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.stop(), STOP_TIMEOUT)
