"""A contract's envelope travels outbox -> relay -> Kafka and comes back identical, as CloudEvents binary mode."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.contracts import parse
from servicekit.contracts.complaints_v1 import ComplaintFiled
from servicekit.db import new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import TOPICS
from servicekit.observability import correlation_id_var
from servicekit.settings import ServiceSettings

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_a_contract_envelope_round_trips_through_the_relay_and_kafka_headers(
    engine: AsyncEngine, outbox: Outbox, settings: ServiceSettings, kafka: Any, background: Any,
) -> None:
    topic = "complaints.complaint"
    await kafka.create({topic: TOPICS[topic]})
    filed = ComplaintFiled(
        complaint_id=new_id(), case_no="TS20261128000001", kind="complaint", region_code="632801", merchant_id=new_id(),
        respondent_name="格尔木某商贸有限公司", sector="retail", category="quality", channel="web",
        request_type="refund", request_amount_fen=29_900, green_channel=False, filed_at=utcnow(),
    )
    token = correlation_id_var.set("request-42")
    try:
        envelope = filed.envelope(source="/complaints", traceparent=TRACEPARENT)
    finally:
        correlation_id_var.reset(token)
    async with AsyncSession(engine) as session, session.begin():
        await outbox.add(session, envelope)

    background.start(OutboxRelay(engine=engine, outbox=outbox, settings=settings).run())
    wanted = str(envelope.id).encode()
    records = await kafka.read(topic, until=lambda got: any(("ce_id", wanted) in record.headers for record in got))
    record = next(record for record in records if ("ce_id", wanted) in record.headers)

    assert record.key == str(filed.complaint_id).encode()
    headers = dict(record.headers)
    assert headers["content-type"] == b"application/json"
    assert {name for name in headers if name.startswith("ce_")} == {
        "ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
        "ce_correlationid", "ce_traceparent",
    }
    assert headers["ce_type"] == b"complaints.complaint.filed.v1"
    assert headers["ce_correlationid"] == b"request-42"
    received = EventEnvelope.from_kafka(record.headers, record.value)
    assert received == envelope
    assert parse(received.type, received.data) == filed
