"""Helpers shared by the mediation tests (a unique module name: every service's test folder is on sys.path)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Protocol

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintAccepted,
    ComplaintRouted,
    ComplaintWithdrawn,
    RouteTarget,
)
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.infra import free_port
from servicekit.pii import PiiCipher

DUE_DATE = date(2030, 12, 11)
PII_KEY = "mediation-test-pii-key"
FACTS = "购买的枸杞与网页宣传不符"

class ApplyEvent(Protocol):
    """Apply events in one transaction, in their order, as the consumer applies one fetch."""

    def __call__(self, *envelopes: EventEnvelope) -> Awaitable[None]: ...


def routed_event(*, merchant_id: uuid.UUID, consumer_id: str = "consumer-1",
                 target: RouteTarget = RouteTarget.MERCHANT, due_date: date = DUE_DATE,
                 region_code: str = "632801") -> EventEnvelope:
    """A complaints.complaint.routed.v1 event as the complaints service would publish it."""
    complaint_id = uuid.uuid4()
    return ComplaintRouted(
        complaint_id=complaint_id,
        case_no=f"TS-{region_code}-20261128-{complaint_id.int % 1_000_000:06d}",
        target=target,
        merchant_id=merchant_id if target is RouteTarget.MERCHANT else None,
        region_code=region_code,
        consumer_id=consumer_id,
        complainant=ComplainantForMerchant(name="王芳", phone_masked="138****8000"),
        request_type="refund",
        request_amount_fen=29900,
        facts_sealed=ComplaintRouted.seal_facts(PiiCipher(PII_KEY), complaint_id=complaint_id, facts=FACTS),
        due_date=due_date,
        routed_at=utcnow(),
    ).envelope(source="complaints", correlationid=f"corr-{complaint_id}")


def accepted_event(*, complaint_id: uuid.UUID, merchant_id: uuid.UUID | None, accepted_at: datetime,
                   consumer_id: str = "consumer-1", region_code: str = "632801") -> EventEnvelope:
    """A complaints.complaint.accepted.v1 event: the regulator accepted the complaint for mediation."""
    return ComplaintAccepted(
        complaint_id=complaint_id, case_no=f"TS-{region_code}-20261128-{complaint_id.int % 1_000_000:06d}",
        region_code=region_code, merchant_id=merchant_id, respondent_name="格尔木某特产店", consumer_id=consumer_id,
        complainant=ComplainantForMerchant(name="王芳", phone_masked="138****8000"), request_type="refund",
        request_amount_fen=29900,
        facts_sealed=ComplaintAccepted.seal_facts(PiiCipher(PII_KEY), complaint_id=complaint_id, facts=FACTS),
        accepted_by="reg-golmud", accepted_at=accepted_at,
    ).envelope(source="complaints", correlationid=f"corr-{complaint_id}")


def withdrawn_event(*, complaint_id: uuid.UUID, merchant_id: uuid.UUID | None) -> EventEnvelope:
    """A complaints.complaint.withdrawn.v1 event."""
    return ComplaintWithdrawn(complaint_id=complaint_id, region_code="632801", merchant_id=merchant_id,
                              withdrawn_at=utcnow()).envelope(source="complaints")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_case(apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], *,
                    merchant_id: uuid.UUID, consumer_id: str = "consumer-1", due_date: date = DUE_DATE,
                    region_code: str = "632801") -> str:
    """Open a negotiation case as the routed event would; its id."""
    event = routed_event(merchant_id=merchant_id, consumer_id=consumer_id, due_date=due_date,
                         region_code=region_code)
    await apply_event(event)
    async with sessionmaker() as session:
        case_id = await session.scalar(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                       {"id": event.data["complaint_id"]})
    return str(case_id)


async def count_rows(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> dict[str, int]:
    """How many rows the case has in each table a use case writes to."""
    async with sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT (SELECT count(*) FROM offer WHERE case_id = :id) AS offers,"
            " (SELECT count(*) FROM case_event WHERE case_id = :id) AS case_events,"
            " (SELECT count(*) FROM outbox WHERE aggregate_id = :id_text) AS outbox,"
            " (SELECT count(*) FROM case_message WHERE case_id = :id) AS messages,"
            " (SELECT count(*) FROM case_attachment WHERE case_id = :id) AS attachments,"
            " (SELECT count(*) FROM settlement_agreement WHERE case_id = :id) AS agreements,"
            " (SELECT count(*) FROM audit_entry WHERE case_id = :id) AS audit_entries"),
            {"id": uuid.UUID(case_id), "id_text": case_id})).one()
    return dict(row._mapping)


async def outbox_events(sessionmaker: async_sessionmaker[AsyncSession],
                        case_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event type, payload) of the case's outbox rows in publication order."""
    async with sessionmaker() as session:
        rows = (await session.execute(
            text("SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY seq"),
            {"id": case_id})).all()
    return [(row.event_type, row.payload) for row in rows]


@asynccontextmanager
async def serve_http(app: FastAPI) -> AsyncIterator[str]:
    """Serve the (already started) app over real HTTP, for responses that stream: its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()  # a server that failed to start raises here
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def next_sse_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    """The next (event, data) of a text/event-stream, skipping pings and comments."""
    event, data = "message", ""
    async for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif line == "" and data:
            return event, json.loads(data)
        elif line == "":
            event = "message"
    raise AssertionError("the stream ended")


async def settle_case(client: httpx.AsyncClient, *, case_id: str, merchant: dict[str, str], consumer: dict[str, str],
                      offer: dict[str, Any]) -> dict[str, Any]:
    """The enterprise offers, the consumer accepts: the settlement agreement."""
    made = await client.post(f"/v1/merchant/cases/{case_id}/offers", json=offer, headers=merchant)
    assert made.status_code == 201, made.text
    accepted = await client.post(f"/v1/consumer/cases/{case_id}/offers/{made.json()['id']}/accept", headers=consumer)
    assert accepted.status_code == 200, accepted.text
    agreement: dict[str, Any] = accepted.json()["agreement"]
    return agreement
