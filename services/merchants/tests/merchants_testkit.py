"""Helpers shared by the merchants tests (a unique module name: every service's test folder is on sys.path)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from merchants.credentials.service import IssuedClient
from merchants.enrollment.service import Actor
from merchants.registry.service import MerchantDetails
from merchants.registry.uscc import ALPHABET, check_character

INTERNAL_TOKEN = "test-internal-token"
REVIEWER = Actor(role="regulator", id="reg-test")
VERIFY = "/internal/v1/credentials/verify"

ApproveMerchant = Callable[[], Awaitable[IssuedClient]]


def random_uscc() -> str:
    """A valid code for a new Golmud company (the algorithm itself is checked in test_merchants_uscc)."""
    body = "91632801" + "".join(secrets.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def merchant_details(name: str = "格尔木测试商贸有限公司") -> MerchantDetails:
    return MerchantDetails(name=name, uscc=random_uscc(), region_code="632801", address="青海省格尔木市河西路1号",
                           sector="retail")


def internal_headers() -> dict[str, str]:
    return {"X-Internal-Token": INTERNAL_TOKEN}


async def topic_reader(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started group-less consumer of every partition of `topic` from the beginning (no group join to wait for)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    await consumer.topics()  # refreshes the metadata that partitions_for_topic reads
    consumer.assign([TopicPartition(topic, partition) for partition in consumer.partitions_for_topic(topic) or ()])
    return consumer
