"""The running service end to end over the real broker: routed event in, case opened, opened event out."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from mediation_testkit import accepted_event, routed_event, withdrawn_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.consumers.complaints import GROUP
from mediation.settings import MediationSettings
from servicekit.contracts.complaints_v1 import RouteTarget
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.kafka import make_producer
from servicekit.testing.infra import topic_reader
from servicekit.testing.plugin import Tokens


async def publish(settings: MediationSettings, *events: EventEnvelope) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.topic, key=event.subject.encode(), value=event.kafka_value(),
                                         headers=event.kafka_headers())
    finally:
        await producer.stop()


async def next_opened_event(consumer: AIOKafkaConsumer, complaint_id: str) -> EventEnvelope:
    while True:
        message = await consumer.getone()
        envelope = EventEnvelope.from_kafka(message.headers, message.value or b"")
        if envelope.data.get("complaint_id") == complaint_id:
            return envelope


async def test_routed_event_on_kafka_opens_one_case_and_publishes_opened(
    app: FastAPI, settings: MediationSettings, sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    routed = routed_event(merchant_id=merchant_id, consumer_id="consumer-kafka")
    to_regulator = routed_event(merchant_id=merchant_id, target=RouteTarget.REGULATOR)
    complaint_id = routed.data["complaint_id"]
    consumer = await topic_reader(settings.kafka_bootstrap, "mediation.case")
    try:
        # The duplicate stands for a redelivery after a crash between the database commit and the offset commit.
        await publish(settings, routed, routed, to_regulator)
        async with asyncio.timeout(30):
            opened = await next_opened_event(consumer, complaint_id)
    finally:
        await consumer.stop()

    assert opened.type == "mediation.case.opened.v1"
    assert opened.source == "mediation"
    assert opened.causationid == str(routed.id)
    assert opened.correlationid == routed.correlationid

    headers = {"Authorization": f"Bearer {tokens.merchant(merchant_id)}"}
    listing = await client.get("/v1/merchant/cases", headers=headers)
    assert [item["id"] for item in listing.json()["items"]] == [opened.subject]

    async with sessionmaker() as session:
        # The regulator-bound event is consumed after the duplicate; waiting for its inbox row proves both were seen.
        async with asyncio.timeout(15):
            while not await session.scalar(text("SELECT count(*) FROM inbox WHERE event_id = :id"),
                                           {"id": to_regulator.id}):
                await session.rollback()
                await asyncio.sleep(0.1)
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM mediation_case WHERE merchant_id = :merchant) AS cases,"
            " (SELECT count(*) FROM outbox WHERE payload->>'complaint_id' = :complaint) AS opened,"
            " (SELECT count(*) FROM inbox WHERE consumer_group = :group AND event_id = :event) AS inbox"),
            {"merchant": merchant_id, "complaint": complaint_id, "group": GROUP, "event": routed.id})).one()
    assert tuple(counts) == (1, 1, 1)


async def test_accepted_and_withdrawn_events_on_kafka_open_mediation_and_close_negotiation(
    app: FastAPI, settings: MediationSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id = uuid.uuid4()
    routed = routed_event(merchant_id=merchant_id, consumer_id="consumer-kafka-2")
    accepted_complaint = uuid.uuid4()
    accepted = accepted_event(complaint_id=accepted_complaint, merchant_id=None, accepted_at=utcnow())
    withdrawn = withdrawn_event(complaint_id=uuid.UUID(routed.data["complaint_id"]), merchant_id=merchant_id)
    await publish(settings, routed, accepted, withdrawn)

    async with sessionmaker() as session, asyncio.timeout(30):
        while True:
            states = dict((await session.execute(text(
                "SELECT complaint_id::text, status || ':' || stage || ':' || coalesce(termination_ground::text, '-') "
                "FROM mediation_case WHERE complaint_id IN (:routed, :accepted)"),
                {"routed": uuid.UUID(routed.data["complaint_id"]), "accepted": accepted_complaint})).all())
            await session.rollback()
            closed = states.get(routed.data["complaint_id"], "").startswith("terminated")
            if closed and str(accepted_complaint) in states:
                break
            await asyncio.sleep(0.1)
    assert states == {routed.data["complaint_id"]: "terminated:negotiation:1",
                      str(accepted_complaint): "mediating:mediation:-"}
