"""Helpers shared by the mediation tests (a unique module name: every service's test folder is on sys.path)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

from aiokafka import AIOKafkaConsumer, TopicPartition
from servicekit.contracts.complaints_v1 import ComplainantForMerchant, ComplaintRouted, RouteTarget
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope

DUE_DATE = date(2030, 12, 11)

ApplyEvent = Callable[[EventEnvelope], Awaitable[None]]


def routed_event(*, merchant_id: uuid.UUID, consumer_id: str = "consumer-1",
                 target: RouteTarget = RouteTarget.MERCHANT, due_date: date = DUE_DATE) -> EventEnvelope:
    """A complaints.complaint.routed.v1 event as the complaints service would publish it."""
    complaint_id = uuid.uuid4()
    return ComplaintRouted(
        complaint_id=complaint_id,
        case_no=f"TS-632801-20261128-{complaint_id.int % 1_000_000:06d}",
        target=target,
        merchant_id=merchant_id if target is RouteTarget.MERCHANT else None,
        region_code="632801",
        consumer_id=consumer_id,
        complainant=ComplainantForMerchant(name="王芳", phone_masked="138****8000"),
        request_type="refund",
        request_amount_fen=29900,
        facts="购买的枸杞与网页宣传不符",
        due_date=due_date,
        routed_at=utcnow(),
    ).envelope(source="complaints", correlationid=f"corr-{complaint_id}")


async def topic_reader(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started group-less consumer of every partition of `topic` from the beginning (no group join to wait for)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    await consumer.topics()  # refreshes the metadata that partitions_for_topic reads
    consumer.assign([TopicPartition(topic, partition) for partition in consumer.partitions_for_topic(topic) or ()])
    return consumer
