"""Group complaints.on-mediation: negotiation failed, settled and terminated move the complaint; repeats and events
for closed complaints change nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from complaints_support import PII_KEY, Area, Consumer, Seed, bearer, file_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.consumers.mediation import GROUP as MEDIATION_GROUP
from complaints.consumers.mediation import mediation_handlers
from complaints.database import outbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.calendar import add_working_days, local_date
from servicekit.contracts.base import EventContract
from servicekit.contracts.mediation_v1 import CaseOpened, CaseSettled, CaseTerminated, NegotiationFailed
from servicekit.events.kafka import make_producer, start_client, stop_client
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

CONSUMER = "/v1/consumer/complaints"
Deliver = Callable[[EventContract], Awaitable[None]]


def deliverer(sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings) -> Deliver:
    """Apply an event with the group's handler in one transaction, as the inbox consumer does."""
    handlers = mediation_handlers(publisher=Publisher(outbox=Outbox(outbox, "complaints"), source="complaints",
                                                      cipher=PiiCipher(PII_KEY)),
                                  cipher=PiiCipher(settings.pii_key.get_secret_value()))

    async def deliver(event: EventContract) -> None:
        async with sessionmaker() as session, session.begin():
            await handlers[event.event_type](session, event.envelope(source="mediation"))

    return deliver


def fields(complaint_id: str, merchant_id: uuid.UUID | None, case_id: uuid.UUID) -> dict[str, Any]:
    return {"case_id": case_id, "complaint_id": uuid.UUID(complaint_id), "merchant_id": merchant_id,
            "region_code": "632801", "at": datetime.now(UTC)}


def settled(complaint_id: str, merchant_id: uuid.UUID | None, case_id: uuid.UUID, amount_fen: int,
            stage: str = "negotiation") -> CaseSettled:
    return CaseSettled(**fields(complaint_id, merchant_id, case_id), stage=stage, agreement_id=uuid.uuid4(),
                       agreement_hash="a" * 64, amount_fen=amount_fen, fulfil_by=None)


async def closed_events(engine: AsyncEngine, complaint_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = 'complaints.complaint.closed.v1'"),
            {"id": complaint_id})
        return [row.payload for row in rows]


async def test_negotiation_failed_sends_the_complaint_to_the_regulator(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings, engine: AsyncEngine,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    deliver = deliverer(sessionmaker, settings)
    case_id = uuid.uuid4()

    await deliver(CaseOpened(case_id=case_id, complaint_id=uuid.UUID(filed["id"]), merchant_id=merchant_id,
                             region_code=region, status="negotiating", due_date=None, opened_at=datetime.now(UTC)))
    failed = NegotiationFailed(**fields(filed["id"], merchant_id, case_id), reason="merchant_declined")
    await deliver(failed)
    await deliver(NegotiationFailed(**fields(filed["id"], merchant_id, case_id), reason="merchant_declined"))

    body = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()
    assert body["status"] == "pending_acceptance"
    assert body["mediation_case_id"] == str(case_id)
    today = local_date(datetime.fromisoformat(body["updated_at"]))
    assert [(d["kind"], d["state"]) for d in body["deadlines"]] == [("merchant_negotiation", "ended"),
                                                                   ("initial_review", "running")]
    assert body["deadlines"][1]["due_date"] == add_working_days(today, 7).isoformat()
    assert [entry["status"] for entry in body["timeline"]].count("pending_acceptance") == 1
    async with engine.connect() as connection:
        routed = (await connection.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = 'complaints.complaint.routed.v1' "
            "ORDER BY seq"), {"id": filed["id"]})).scalars().all()
    assert [event["target"] for event in routed] == ["merchant", "regulator"]


async def test_settlement_closes_and_counts_the_money_once(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings, engine: AsyncEngine,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    deliver = deliverer(sessionmaker, settings)
    case_id = uuid.uuid4()

    await deliver(settled(filed["id"], merchant_id, case_id, 29900))
    await deliver(settled(filed["id"], merchant_id, case_id, 29900))  # a second agreement for a closed case

    body = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()
    assert body["status"] == "closed_settled"
    assert body["recovered_fen"] == 29900
    assert body["closed_at"] is not None
    assert [(d["kind"], d["state"]) for d in body["deadlines"]] == [("merchant_negotiation", "met")]
    [closed] = await closed_events(engine, filed["id"])
    assert (closed["status"], closed["recovered_fen"]) == ("closed_settled", 29900)


async def test_regulator_mediation_ends_settled_or_terminated(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings, engine: AsyncEngine,
) -> None:
    region = area.first
    _, auth = consumer()
    deliver = deliverer(sessionmaker, settings)
    regulator = bearer(tokens.regulator(region=region))
    to_settle = await file_case(client, auth, region)
    to_terminate = await file_case(client, auth, region)
    for filed in (to_settle, to_terminate):
        accepted = await client.post(f"/v1/regulator/complaints/{filed['id']}/accept", headers=regulator)
        assert accepted.status_code == 200

    await deliver(settled(to_settle["id"], None, uuid.uuid4(), 5000, stage="mediation"))
    terminated = CaseTerminated(**fields(to_terminate["id"], None, uuid.uuid4()), ground=3, note="双方无法达成一致")
    await deliver(terminated)
    await deliver(settled(to_terminate["id"], None, uuid.uuid4(), 7000))  # too late: ignored

    first = (await client.get(f"{CONSUMER}/{to_settle['id']}", headers=auth)).json()
    second = (await client.get(f"{CONSUMER}/{to_terminate['id']}", headers=auth)).json()
    assert (first["status"], first["recovered_fen"]) == ("closed_settled", 5000)
    assert (second["status"], second["recovered_fen"]) == ("closed_terminated", 0)
    assert second["timeline"][-1]["actor_role"] == "mediator"
    assert "ground 3" in second["timeline"][-1]["note"]
    assert [e["status"] for e in await closed_events(engine, to_terminate["id"])] == ["closed_terminated"]


async def test_an_outcome_for_a_withdrawn_complaint_is_ignored(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings, engine: AsyncEngine,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    await client.post(f"{CONSUMER}/{filed['id']}/withdraw", headers=auth)
    before = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()

    deliver = deliverer(sessionmaker, settings)
    await deliver(NegotiationFailed(**fields(filed["id"], merchant_id, uuid.uuid4()), reason="deadline_passed"))
    await deliver(settled(filed["id"], merchant_id, uuid.uuid4(), 100))

    assert (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json() == before
    assert [e["status"] for e in await closed_events(engine, filed["id"])] == ["withdrawn"]


async def test_the_running_consumer_applies_a_settlement_from_the_broker_once(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
    settings: ComplaintsSettings,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    envelope = settled(filed["id"], merchant_id, uuid.uuid4(), 12300).envelope(source="mediation")

    producer = await start_client(lambda: make_producer(settings))
    try:
        for _ in range(2):  # a redelivery of the same event id
            redelivery = await producer.send_and_wait(envelope.topic, key=envelope.subject.encode(),
                                                      value=envelope.kafka_value(), headers=envelope.kafka_headers())
    finally:
        await stop_client(producer)

    body: dict[str, Any] = {}
    for _ in range(600):  # the consumer group may need a rebalance first: up to 60 s
        body = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()
        if body["status"] == "closed_settled":
            break
        await asyncio.sleep(0.1)
    assert body["status"] == "closed_settled"
    # Once the group has committed past the redelivery, it has been handled (and dropped by the inbox) too.
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=MEDIATION_GROUP,
                             enable_auto_commit=False)
    await probe.start()
    try:
        partition = TopicPartition(redelivery.topic, redelivery.partition)
        for _ in range(600):
            if (await probe.committed(partition) or 0) > redelivery.offset:
                break
            await asyncio.sleep(0.1)
        assert (await probe.committed(partition) or 0) > redelivery.offset
    finally:
        await probe.stop()
    body = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()
    assert body["recovered_fen"] == 12300


async def test_a_mediation_case_opened_is_recorded_once(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings, engine: AsyncEngine,
) -> None:
    """Its id, a new version and one timeline entry at the case's status; told again (a new event for the same
    mediation case), or told of a complaint that does not exist, nothing is written."""
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    deliver = deliverer(sessionmaker, settings)
    case_id = uuid.uuid4()

    def opened(complaint_id: uuid.UUID) -> CaseOpened:
        return CaseOpened(case_id=case_id, complaint_id=complaint_id, merchant_id=merchant_id, region_code=region,
                          status="negotiating", due_date=None, opened_at=datetime.now(UTC))

    await deliver(opened(uuid.UUID(filed["id"])))
    await deliver(opened(uuid.UUID(filed["id"])))
    await deliver(opened(uuid.uuid4()))

    response = await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)
    body = response.json()
    assert body["mediation_case_id"] == str(case_id)
    assert [(entry["status"], entry["code"]) for entry in body["timeline"]] == [
        ("submitted", "filed"), ("with_merchant", "sent_to_enterprise"), ("with_merchant", "mediation_opened")]
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version FROM complaint WHERE id = :id"),
                                            {"id": filed["id"]})).scalar_one()
        orphans = (await connection.execute(text(
            "SELECT count(*) FROM complaint_event WHERE details->>'case_id' = :case_id"),
            {"case_id": str(case_id)})).scalar_one()
    assert version == 2
    assert orphans == 1
