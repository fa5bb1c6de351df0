"""The consumer's personal data in mediation: their export, and the erasure `personal_data_erased.v1` carries here
(the complainant, the facts, the consumer's messages, uploads and notes on the case trail go; the case, the trail's
rows, the other party's and staff's words, the agreement and a verifiable hash chain stay), applied idempotently;
the trail refuses every other change."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from mediation_testkit import ApplyEvent, bearer, settle_case
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.cases import trail
from mediation.cases.access import Actor
from mediation.cases.models import MediationCase
from mediation.personal_data.service import erase_of_complaint
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
from servicekit.uploads import LocalDiskStore

REGION = "632802"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def _routed(complaint_id: uuid.UUID, merchant_id: uuid.UUID, consumer_id: str, facts: str,
            cipher: PiiCipher) -> ComplaintRouted:
    return ComplaintRouted(
        complaint_id=complaint_id, case_no=f"TS-{REGION}-20261128-{complaint_id.int % 1_000_000:06d}",
        target=RouteTarget.MERCHANT, merchant_id=merchant_id, region_code=REGION, consumer_id=consumer_id,
        complainant=ComplainantForMerchant.sealed(cipher, complaint_id=complaint_id, name="欧阳娜娜",
                                                  phone="13912345678"),
        request_type="refund", request_amount_fen=29900, facts=facts, due_date=None, routed_at=utcnow(),
        order_no=f"JD{complaint_id.hex[:10]}")


async def _trail_written(sessionmaker: async_sessionmaker[AsyncSession], cipher: PiiCipher,
                         case_id: str) -> list[tuple[str, str, dict[str, str] | None]]:
    """(kind, actor role, what was written, opened) of every trail row of the case, oldest first."""
    async with sessionmaker() as session:
        rows = (await session.execute(text("SELECT id, kind, actor_role, written_enc FROM case_event "
                                           "WHERE case_id = :id ORDER BY at, kind"),
                                      {"id": uuid.UUID(case_id)})).all()
    return [(kind, role, None if sealed is None else
             json.loads(cipher.decrypt(sealed, context=f"case_event:{row_id}:written")))
            for row_id, kind, role, sealed in rows]


def _stored(settings: MediationSettings) -> set[Path]:
    return {path for path in settings.attachment_dir.rglob("*") if path.is_file()}


async def test_erasure_empties_the_consumers_data_keeps_the_case_and_the_chain_verifies(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings,
) -> None:
    merchant_id, complaint_id, tag = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex[:10]
    sub = f"consumer-{tag}"
    facts, said = f"牦牛肉干发霉{tag}", f"我家住在盐湖路{tag}"
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    routed = _routed(complaint_id, merchant_id, sub, facts, cipher)
    order_no = routed.order_no
    assert order_no
    await apply_event(routed.envelope(source="complaints"))
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


async def _consumer_offers_with_a_note(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(text(
            "SELECT count(*) FROM offer WHERE case_id = :id AND made_by = 'consumer' AND note_enc IS NOT NULL"),
            {"id": uuid.UUID(case_id)}) or 0)


async def test_erasure_empties_what_the_consumer_wrote_on_the_trail_and_nothing_else(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings,
) -> None:
    merchant_id, complaint_id, tag = uuid.uuid4(), uuid.uuid4(), uuid.uuid4().hex[:10]
    sub = f"consumer-{tag}"
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    await apply_event(_routed(complaint_id, merchant_id, sub, f"耳机断线{tag}", cipher).envelope(source="complaints"))
    async with sessionmaker() as session:
        case_id = str(await session.scalar(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                           {"id": complaint_id}))
    consumer, merchant = bearer(tokens.consumer(sub)), bearer(tokens.merchant(merchant_id))
    first = await client.post(f"/v1/merchant/cases/{case_id}/offers", headers=merchant,
                              json={"type": "refund", "amount_fen": 10000})
    assert first.status_code == 201, first.text
    rejected = await client.post(f"/v1/consumer/cases/{case_id}/offers/{first.json()['id']}/reject",
                                 headers=consumer, json={"note": f"太少了，我住盐湖路{tag}", "counter": {
                                     "type": "refund", "amount_fen": 50000, "note": f"至少五百，电话尾号{tag}"}})
    assert rejected.status_code == 200, rejected.text
    # The enterprise's next offer supersedes the counter, so no agreement comes from it.
    await settle_case(client, case_id=case_id, merchant=merchant, consumer=consumer,
                      offer={"type": "refund", "amount_fen": 29900})
    recorded = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment", headers=merchant,
                                 json={"kind": "refund_txn", "reference": f"WX-{tag}"})
    assert recorded.status_code == 201, recorded.text
    disputed = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{recorded.json()['id']}/dispute",
                                 headers=consumer, json={"note": f"未到账，卡号尾号{tag}"})
    assert disputed.status_code == 200, disputed.text
    again = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment", headers=merchant,
                              json={"kind": "refund_txn", "reference": f"WX2-{tag}"})
    confirmed = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{again.json()['id']}/confirm",
                                  headers=consumer, json={"note": f"收到了{tag}"})
    assert confirmed.status_code == 200, confirmed.text
    async with sessionmaker() as session, session.begin():
        case = await session.get(MediationCase, uuid.UUID(case_id))
        assert case is not None
        await trail.record(session, case, kind="read_by_staff", actor=Actor("mediator", "mediator-1"), at=utcnow(),
                           details={"note": f"调解员备注{tag}"}, cipher=cipher)

    before = await _trail_written(sessionmaker, cipher, case_id)
    assert await _consumer_offers_with_a_note(sessionmaker, case_id) == 1
    consumers_notes = {f"太少了，我住盐湖路{tag}", f"未到账，卡号尾号{tag}", f"收到了{tag}"}
    assert {written["note"] for _, role, written in before if role == "consumer" and written} == consumers_notes

    erased = PersonalDataErased(complaint_id=complaint_id, region_code=REGION, merchant_id=merchant_id,
                                erased_at=utcnow()).envelope(source="complaints")
    await apply_event(erased)
    # The inbox drops a repeated event, so the handler itself is run a second time to show it changes nothing more.
    async with sessionmaker() as session, session.begin():
        assert await erase_of_complaint(session, complaint_id=complaint_id, cipher=cipher,
                                        store=LocalDiskStore(settings.attachment_dir))

    after = await _trail_written(sessionmaker, cipher, case_id)
    assert await _consumer_offers_with_a_note(sessionmaker, case_id) == 0
    assert [(kind, role) for kind, role, _ in after] == [(kind, role) for kind, role, _ in before]
    assert [written for _, role, written in after if role == "consumer"] == [None] * sum(
        role == "consumer" for _, role, _ in before)
    assert [row for row in after if row[1] != "consumer"] == [row for row in before if row[1] != "consumer"]
    assert {"reference": f"WX-{tag}"} in [written for _, _, written in after]
    assert {"note": f"调解员备注{tag}"} in [written for _, _, written in after]
    verified = await client.get("/v1/regulator/audit/verify", params={"region": REGION},
                                headers=bearer(tokens.regulator(region=REGION)))
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()


@pytest.mark.parametrize(("erasure", "statement"), [
    (False, "UPDATE case_event SET written_enc = NULL WHERE case_id = :id AND actor_role = 'consumer'"),
    (True, "UPDATE case_event SET written_enc = NULL WHERE case_id = :id AND actor_role = 'enterprise'"),
    (True, "UPDATE case_event SET written_enc = NULL, kind = 'forged' WHERE case_id = :id AND actor_role = 'consumer'"),
    (True, "UPDATE case_event SET details = '{}' WHERE case_id = :id AND actor_role = 'consumer'"),
    (True, "UPDATE case_event SET written_enc = '\\x00' WHERE case_id = :id AND actor_role = 'consumer'"),
    (True, "DELETE FROM case_event WHERE case_id = :id AND actor_role = 'consumer'"),
])
async def test_the_trail_allows_no_other_change_than_an_erasure_of_the_consumers_text(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], settings: MediationSettings,
    erasure: bool, statement: str,
) -> None:
    merchant_id, complaint_id = uuid.uuid4(), uuid.uuid4()
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    routed = _routed(complaint_id, merchant_id, "consumer-x", "屏幕碎了", cipher)
    await apply_event(routed.envelope(source="complaints"))
    async with sessionmaker() as session, session.begin():
        case = (await session.execute(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                      {"id": complaint_id})).scalar_one()
        loaded = await session.get(MediationCase, case)
        assert loaded is not None
        for role in ("consumer", "enterprise"):
            await trail.record(session, loaded, kind="offer_rejected", actor=Actor(role, f"{role}-x"), at=utcnow(),
                               details={"note": f"{role}写的"}, cipher=cipher)
    async with sessionmaker() as session, session.begin():
        if erasure:
            await session.execute(text("SELECT set_config('odr.erasure', 'on', true)"))
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement), {"id": case})
    async with sessionmaker() as session:
        kept = await session.scalar(text("SELECT count(*) FROM case_event WHERE case_id = :id "
                                         "AND written_enc IS NOT NULL"), {"id": case})
    assert kept == 2
