"""`personal_data_erased.v1` in merchants: the enterprise's webhook deliveries about the complaint lose their
personal fields (delivered or not), other complaints' deliveries keep theirs, and the erasure itself is owed to the
enterprise like any case event; applied twice, it changes nothing more."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from merchants_testkit import ApproveMerchant, Receiver
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.consumers.case_events import ON_COMPLAINTS, handlers
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintRouted,
    EvidenceForMerchant,
    PersonalDataErased,
    RouteTarget,
)
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import queueing_writes
from servicekit.testing.plugin import Tokens

ON_EVENT = handlers(retry_window=timedelta(days=1))[ON_COMPLAINTS]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    yield started
    await started.stop()


def _routed(merchant_id: uuid.UUID, tag: str) -> EventEnvelope:
    return ComplaintRouted(
        complaint_id=uuid.uuid4(), case_no=f"TS-632801-20261128-{tag[:6]}", target=RouteTarget.MERCHANT,
        merchant_id=merchant_id, region_code="632801", consumer_id="consumer-1",
        complainant=ComplainantForMerchant(name=f"欧{tag}", phone_masked="139****5678"), request_type="refund",
        request_amount_fen=29900, facts=f"枸杞发霉{tag}", due_date=None, routed_at=datetime.now(UTC),
        order_no=f"JD{tag}", evidence=[EvidenceForMerchant(id=uuid.uuid4(), filename=f"发票{tag}.jpg",
                                                          media_type="image/jpeg", size_bytes=10, sha256="0" * 64)],
    ).envelope(source="complaints")


async def _apply(sessionmaker: async_sessionmaker[AsyncSession], envelope: EventEnvelope) -> None:
    async with sessionmaker() as session, session.begin(), queueing_writes(session):
        await ON_EVENT[envelope.type](session, envelope)


async def _payloads(sessionmaker: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID) -> dict[str, Any]:
    async with sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT event_type, payload FROM webhook_delivery WHERE merchant_id = :id ORDER BY created_at, id"),
            {"id": merchant_id})).all()
    return {f"{row.event_type}:{row.payload['data']['complaint_id']}": row.payload for row in rows}


async def test_erasure_empties_the_personal_fields_of_the_complaints_deliveries_only(
    client: httpx.AsyncClient, approved_merchant: ApproveMerchant, tokens: Tokens, receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    issued = await approved_merchant()
    headers = {"Authorization": f"Bearer {tokens.merchant(issued.merchant_id, sub=issued.client_id)}"}
    configured = await client.put("/v1/merchant/webhook", json={"url": receiver.url}, headers=headers)
    assert configured.status_code == 200, configured.text
    erased_case, other_case = _routed(issued.merchant_id, uuid.uuid4().hex[:8]), _routed(
        issued.merchant_id, uuid.uuid4().hex[:8])
    await _apply(sessionmaker, erased_case)
    await _apply(sessionmaker, other_case)
    complaint_id = erased_case.data["complaint_id"]
    erasure = PersonalDataErased(complaint_id=complaint_id, region_code="632801", merchant_id=issued.merchant_id,
                                 erased_at=datetime.now(UTC)).envelope(source="complaints")

    await _apply(sessionmaker, erasure)
    once = await _payloads(sessionmaker, issued.merchant_id)
    await _apply(sessionmaker, erasure)

    assert await _payloads(sessionmaker, issued.merchant_id) == once
    erased = once[f"{ComplaintRouted.event_type}:{complaint_id}"]["data"]
    assert (erased["facts"], erased["order_no"], erased["evidence"], erased["complainant"]) == (
        "", None, [], {"name": "", "phone_masked": ""})
    assert (erased["case_no"], erased["request_amount_fen"]) == (erased_case.data["case_no"], 29900)
    kept = once[f"{ComplaintRouted.event_type}:{other_case.data['complaint_id']}"]["data"]
    assert kept["facts"] == other_case.data["facts"]
    assert kept["order_no"] == other_case.data["order_no"]
    assert f"{PersonalDataErased.event_type}:{complaint_id}" in once
