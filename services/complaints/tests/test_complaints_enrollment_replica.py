"""The ODR replica: merchants' enrollment events set who receives complaints directly; through the real broker too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from complaints_support import Area, ChangeEnrollment, Consumer, Count, Seed, complaint_body
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.consumers import merchants as merchant_events
from servicekit.contracts.merchants_v1 import (
    EnrollmentApproved,
    EnrollmentReinstated,
    EnrollmentRevoked,
    EnrollmentSuspended,
)

PATH = "/v1/consumer/complaints"


async def status_of(engine: AsyncEngine, merchant_id: uuid.UUID) -> str | None:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT status FROM enrolled_merchant WHERE merchant_id = :id"),
                                          {"id": merchant_id})
        return result.scalar_one_or_none()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_suspension_reinstatement_and_revocation_follow_the_events(
    enrolled_merchant: Seed, change_enrollment: ChangeEnrollment, engine: AsyncEngine, area: Area,
) -> None:
    merchant_id = await enrolled_merchant(area.first)
    assert await status_of(engine, merchant_id) == "active"

    await change_enrollment(EnrollmentSuspended, merchant_id)
    assert await status_of(engine, merchant_id) == "suspended"
    await change_enrollment(EnrollmentReinstated, merchant_id)
    assert await status_of(engine, merchant_id) == "active"
    await change_enrollment(EnrollmentRevoked, merchant_id)
    assert await status_of(engine, merchant_id) == "revoked"


async def test_an_event_older_than_the_row_changes_nothing(
    enrolled_merchant: Seed, change_enrollment: ChangeEnrollment, engine: AsyncEngine, area: Area,
) -> None:
    merchant_id = await enrolled_merchant(area.first)

    await change_enrollment(EnrollmentSuspended, merchant_id, at=datetime.now(UTC) - timedelta(days=1))

    assert await status_of(engine, merchant_id) == "active"


async def test_a_repeated_approval_updates_the_one_row(
    sessionmaker: async_sessionmaker[AsyncSession], count: Count, area: Area,
) -> None:
    merchant_id = uuid.uuid4()
    for name in ("旧名称商店", "新名称商店"):
        event = EnrollmentApproved(merchant_id=merchant_id, name=name, uscc="91632801MA7XXXXX0Q",
                                   region_code=area.first, sector="retail", approved_at=datetime.now(UTC))
        async with sessionmaker() as session, session.begin():
            await merchant_events.on_enrollment_approved(session, event.envelope(source="merchants"))

    assert await count("enrolled_merchant", "merchant_id = :id", id=merchant_id) == 1
    assert await count("enrolled_merchant", "merchant_id = :id AND name = '新名称商店'", id=merchant_id) == 1


async def test_an_approval_from_the_broker_routes_the_next_complaint_and_the_relay_publishes_it(
    client: httpx.AsyncClient, consumer: Consumer, kafka_bootstrap: str, engine: AsyncEngine, area: Area,
) -> None:
    merchant_id = uuid.uuid4()
    region = area.first
    approved = EnrollmentApproved(merchant_id=merchant_id, name="昆仑玉器旗舰店", uscc="91632801MA7ZZZZZ2T",
                                  region_code=region, sector="online_shopping",
                                  approved_at=datetime.now(UTC)).envelope(source="merchants")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(approved.topic, approved.kafka_value(), key=approved.subject.encode(),
                                     headers=approved.kafka_headers())
    finally:
        await producer.stop()

    async def replicated() -> bool:
        return await status_of(engine, merchant_id) == "active"

    await eventually(replicated)
    async with engine.connect() as connection:
        inbox_rows = await connection.scalar(text(
            "SELECT count(*) FROM inbox WHERE consumer_group = 'complaints.on-merchants' AND event_id = :id"),
            {"id": approved.id})
    assert inbox_rows == 1

    _, auth = consumer()
    response = await client.post(PATH, json=complaint_body(respondent={"merchant_id": str(merchant_id)}),
                                 headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "with_merchant"
    complaint_id = response.json()["id"]

    reader = AIOKafkaConsumer("complaints.complaint", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                              group_id=f"test-{uuid.uuid4().hex[:8]}", fetch_max_wait_ms=50)
    await reader.start()
    seen: list[str] = []
    try:
        async def routed_published() -> bool:
            batches = await reader.getmany(timeout_ms=200)
            seen.extend(
                dict(record.headers)["ce_type"].decode()
                for records in batches.values() for record in records
                if record.key == complaint_id.encode()
            )
            return "complaints.complaint.routed.v1" in seen

        await eventually(routed_published)
    finally:
        await reader.stop()
    assert seen == ["complaints.complaint.filed.v1", "complaints.complaint.routed.v1"]
