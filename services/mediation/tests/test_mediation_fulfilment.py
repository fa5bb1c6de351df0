"""Fulfilment of an agreement: proof, the consumer's confirmation or dispute, and the sweeper for silence."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx
from mediation_testkit import ApplyEvent, bearer, open_case, outbox_events, settle_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.fulfilment.service import flag_unconfirmed
from servicekit.events.outbox import Outbox
from servicekit.testing.plugin import Tokens

SHANGHAI = ZoneInfo("Asia/Shanghai")
FULFIL_BY = date(2027, 1, 5)
OFFER = {"type": "refund", "amount_fen": 29900, "fulfil_by": FULFIL_BY.isoformat()}


async def test_proof_dispute_new_proof_confirm(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-ful")
    merchant, consumer = bearer(tokens.merchant(merchant_id)), bearer(tokens.consumer("consumer-ful"))
    too_early = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                                  json={"kind": "refund_txn", "reference": "T1"}, headers=merchant)
    assert too_early.status_code == 409
    agreement = await settle_case(client, case_id=case_id, merchant=merchant, consumer=consumer, offer=OFFER)
    assert agreement["fulfilment_status"] == "pending"

    bad_kind = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                                 json={"kind": "promise", "reference": "T1"}, headers=merchant)
    assert bad_kind.status_code == 422
    first = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                              json={"kind": "refund_txn", "reference": "WX-0001"}, headers=merchant)
    assert first.status_code == 201, first.text
    assert first.json()["fulfilment_status"] == "recorded"
    disputed = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{first.json()['id']}/dispute",
                                 json={"note": "未到账"}, headers=consumer)
    assert disputed.status_code == 200
    assert (disputed.json()["answer"], disputed.json()["fulfilment_status"]) == ("disputed", "disputed")

    second = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                               json={"kind": "refund_txn", "reference": "WX-0002"}, headers=merchant)
    stale = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{first.json()['id']}/confirm", json={},
                              headers=consumer)
    assert stale.status_code == 409
    confirmed = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{second.json()['id']}/confirm",
                                  json={}, headers=consumer)
    assert confirmed.status_code == 200
    assert confirmed.json()["fulfilment_status"] == "confirmed"
    after = await client.post(f"/v1/merchant/cases/{case_id}/fulfilment",
                              json={"kind": "other", "reference": "x"}, headers=merchant)
    assert after.status_code == 409
    by_merchant = await client.post(f"/v1/consumer/cases/{case_id}/fulfilment/{second.json()['id']}/confirm",
                                    json={}, headers=merchant)
    assert by_merchant.status_code == 403

    events = [(event, payload) for event, payload in await outbox_events(sessionmaker, case_id)
              if event.startswith("mediation.case.fulfilment")]
    assert [(event.rsplit(".", 2)[1], payload.get("confirmed")) for event, payload in events] == [
        ("fulfilment_recorded", None), ("fulfilment_confirmed", False), ("fulfilment_recorded", None),
        ("fulfilment_confirmed", True)]
    detail = (await client.get(f"/v1/consumer/cases/{case_id}", headers=consumer)).json()
    assert [proof["reference"] for proof in detail["fulfilment_proofs"]] == ["WX-0001", "WX-0002"]
    async with sessionmaker() as session:
        kinds = (await session.execute(text("SELECT kind FROM audit_entry WHERE case_id = :id ORDER BY seq"),
                                       {"id": uuid.UUID(case_id)})).scalars().all()
    assert kinds == ["settled", "fulfilled"]


async def test_silence_brings_a_reminder_then_a_regulator_flag_once_each(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Outbox, tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-quiet")
    await settle_case(client, case_id=case_id, merchant=bearer(tokens.merchant(merchant_id)),
                      consumer=bearer(tokens.consumer("consumer-quiet")), offer=OFFER)

    def at(day: int, hour: int) -> datetime:
        return datetime.combine(date(2027, 1, day), time(hour), tzinfo=SHANGHAI)

    async def levels() -> list[str]:
        return [payload["level"] for event, payload in await outbox_events(sessionmaker, case_id)
                if event == "mediation.case.fulfilment_overdue.v1"]

    # Fulfil by 5 Jan: silence counts from 6 Jan 00:00; 7 days -> reminder on 13 Jan, 7 more -> regulator on 20 Jan.
    await flag_unconfirmed(sessionmaker, outbox=outbox, now=at(12, 23), days=7)
    assert await levels() == []
    await flag_unconfirmed(sessionmaker, outbox=outbox, now=at(13, 1), days=7)
    await flag_unconfirmed(sessionmaker, outbox=outbox, now=at(13, 2), days=7)
    assert await levels() == ["reminder"]
    await flag_unconfirmed(sessionmaker, outbox=outbox, now=at(20, 1), days=7)
    await flag_unconfirmed(sessionmaker, outbox=outbox, now=at(25, 1), days=7)
    assert await levels() == ["reminder", "regulator"]
    async with sessionmaker() as session:
        flags = (await session.execute(text(
            "SELECT reminder_at IS NOT NULL AS reminded, regulator_flagged_at IS NOT NULL AS flagged "
            "FROM settlement_agreement WHERE case_id = :id"), {"id": uuid.UUID(case_id)})).one()
    assert (flags.reminded, flags.flagged) == (True, True)
