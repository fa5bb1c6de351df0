"""The consumer's personal data in mediation: their export, and the erasure `personal_data_erased.v1` carries here
(the complainant, the facts, the consumer's messages and uploads go; the case, the other party's words, the
agreement and a verifiable hash chain stay), applied idempotently."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from mediation_testkit import ApplyEvent, bearer, settle_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.settings import MediationSettings
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintRouted,
    PersonalDataErased,
    RouteTarget,
)
from servicekit.db import utcnow
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

REGION = "632802"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def _stored(settings: MediationSettings) -> set[Path]:
    return {path for path in settings.attachment_dir.rglob("*") if path.is_file()}


async def test_erasure_empties_the_consumers_data_keeps_the_case_and_the_chain_verifies(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings,
) -> None:
    merchant_id, complaint_id, tag = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex[:10]
    sub = f"consumer-{tag}"
    facts, order_no, said = f"牦牛肉干发霉{tag}", f"JD{tag}", f"我家住在盐湖路{tag}"
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    await apply_event(ComplaintRouted(
        complaint_id=complaint_id, case_no=f"TS-{REGION}-20261128-{complaint_id.int % 1_000_000:06d}",
        target=RouteTarget.MERCHANT, merchant_id=merchant_id, region_code=REGION, consumer_id=sub,
        complainant=ComplainantForMerchant.sealed(cipher, complaint_id=complaint_id, name="欧阳娜娜",
                                                  phone="13912345678"),
        request_type="refund", request_amount_fen=29900, facts=facts, due_date=None, routed_at=utcnow(),
        order_no=order_no).envelope(source="complaints"))
    async with sessionmaker() as session:
        case_id = str(await session.scalar(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                           {"id": complaint_id}))
    consumer, merchant = bearer(tokens.consumer(sub)), bearer(tokens.merchant(merchant_id))
    before_upload = _stored(settings)
    uploaded = await client.post(f"/v1/consumer/cases/{case_id}/attachments", headers=consumer,
                                 files={"file": (f"身份证{tag}.png", PNG, "application/octet-stream")})
    assert uploaded.status_code == 201, uploaded.text
    assert (await client.post(f"/v1/consumer/cases/{case_id}/messages", headers=consumer,
                              json={"text": said, "attachment_ids": [uploaded.json()["id"]]})).status_code == 201
    assert (await client.post(f"/v1/merchant/cases/{case_id}/messages", headers=merchant,
                              json={"text": "已安排退款"})).status_code == 201
    agreement = await settle_case(client, case_id=case_id, merchant=merchant, consumer=consumer,
                                  offer={"type": "refund", "amount_fen": 29900, "note": "全额退款"})

    exported = await client.get("/v1/consumer/personal-data/mediation", headers=consumer)
    assert exported.status_code == 200, exported.text
    [case] = exported.json()["cases"]
    assert (case["id"], case["complainant"]["name"], case["facts"]) == (case_id, "欧阳娜娜", facts)
    assert said in [message["text"] for message in case["messages"]]
    assert (await client.get("/v1/consumer/personal-data/mediation",
                             headers=bearer(tokens.merchant(merchant_id)))).status_code == 403

    erased = PersonalDataErased(complaint_id=complaint_id, region_code=REGION, merchant_id=merchant_id,
                                erased_at=utcnow()).envelope(source="complaints")
    await apply_event(erased)
    await apply_event(erased)

    detail = (await client.get(f"/v1/consumer/cases/{case_id}", headers=consumer)).json()
    assert (detail["complainant"], detail["facts"], detail["purchase"], detail["evidence"]) == (
        {"name": "", "phone_masked": ""}, "", None, [])
    assert {message["text"] for message in detail["messages"]} == {"", "已安排退款"}
    assert detail["attachments"] == []
    assert _stored(settings) == before_upload
    assert detail["agreement"]["id"] == agreement["id"]
    async with sessionmaker() as session:
        rows = (await session.execute(text("SELECT t::text FROM mediation_case t WHERE id = :id"),
                                      {"id": uuid.UUID(case_id)})).scalars().all()
    assert not [row for row in rows if facts in row or order_no in row]
    verified = await client.get("/v1/regulator/audit/verify", params={"region": REGION},
                                headers=bearer(tokens.regulator(region=REGION)))
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
    assert verified.json()["entries"] >= 1
