"""Regulator decisions (accept, refuse, route to an ODR enterprise) and the consumer's withdrawal and rating."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from complaints_support import PII_KEY, Area, ChangeEnrollment, Consumer, Count, Seed, bearer, file_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint import decisions
from complaints.database import outbox
from complaints.publisher import Publisher
from servicekit.calendar import add_working_days, local_date
from servicekit.contracts.complaints_v1 import ComplainantForMerchant, ComplaintAccepted
from servicekit.contracts.mediation_v1 import CaseSettled
from servicekit.contracts.merchants_v1 import EnrollmentSuspended
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

CONSUMER = "/v1/consumer/complaints"
REGULATOR = "/v1/regulator/complaints"
PUBLISHER = Publisher(outbox=Outbox(outbox, "complaints"), source="complaints", cipher=PiiCipher(PII_KEY))


async def events_of(engine: AsyncEngine, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY seq"), {"id": case_id})
        return [(row.event_type.removeprefix("complaints.complaint."), row.payload) for row in rows]


async def settle(sessionmaker: async_sessionmaker[AsyncSession], case_id: str, amount_fen: int = 0) -> None:
    """Apply mediation's settled event, as the complaints.on-mediation consumer would."""
    event = CaseSettled(case_id=uuid.uuid4(), complaint_id=uuid.UUID(case_id), merchant_id=None,
                        region_code="632801", at=datetime.now().astimezone(), stage="negotiation",
                        agreement_id=uuid.uuid4(), agreement_hash="0" * 64, amount_fen=amount_fen, fulfil_by=None)
    async with sessionmaker() as session, session.begin():
        await decisions.record_settled(session, event, PUBLISHER)


async def test_the_regulator_accepts_and_mediation_is_told(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
) -> None:
    region = area.first
    sub, auth = consumer()
    filed = await file_case(client, auth, region)

    response = await client.post(f"{REGULATOR}/{filed['id']}/accept",
                                 headers=bearer(tokens.regulator(region=region, sub="reg-a")))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert [(d["kind"], d["state"]) for d in body["deadlines"]] == [("initial_review", "met")]
    assert (body["timeline"][-1]["status"], body["timeline"][-1]["actor_role"]) == ("accepted", "regulator")
    events = await events_of(engine, filed["id"])
    assert [kind for kind, _ in events] == ["filed.v1", "routed.v1", "accepted.v1"]
    accepted = events[-1][1]
    assert accepted["accepted_by"] == "reg-a"
    assert accepted["consumer_id"] == sub
    complainant = ComplainantForMerchant.model_validate(accepted["complainant"])
    assert (complainant.name, complainant.phone_masked) == ("王*", "138****8000")
    assert complainant.full_name(PiiCipher(PII_KEY), complaint_id=uuid.UUID(filed["id"])) == "王芳"
    # The facts travel only sealed, bound to the complaint; mediation opens them with the shared key.
    assert accepted["facts"] is None
    assert filed["facts"] not in str(accepted)
    assert ComplaintAccepted.model_validate(accepted).facts_text(
        PiiCipher(PII_KEY), complaint_id=uuid.UUID(filed["id"])) == filed["facts"]
    again = await client.post(f"{REGULATOR}/{filed['id']}/accept", headers=bearer(tokens.regulator(region=region)))
    assert again.status_code == 409
    assert len(await events_of(engine, filed["id"])) == 3


async def test_a_refusal_gives_the_consumer_the_ground_and_the_other_routes(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
) -> None:
    region = area.first
    _, auth = consumer()
    filed = await file_case(client, auth, region)

    response = await client.post(f"{REGULATOR}/{filed['id']}/refuse", json={"ground": 4, "note": "超过三年"},
                                 headers=bearer(tokens.regulator(region=area.prefecture)))

    assert response.status_code == 200, response.text
    mine = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()
    assert mine["status"] == "closed_refused"
    assert mine["closed_at"] is not None
    assert mine["refusal"]["ground"] == 4
    assert mine["refusal"]["note"] == "超过三年"
    assert "向人民法院提起诉讼" in mine["refusal"]["other_routes"]
    assert [(d["kind"], d["state"]) for d in mine["deadlines"]] == [("initial_review", "met")]
    events = await events_of(engine, filed["id"])
    assert [kind for kind, _ in events][-2:] == ["refused.v1", "closed.v1"]
    assert events[-2][1]["ground"] == 4
    assert events[-1][1]["status"] == "closed_refused"
    # The note reads back in clear on the timeline and rests nowhere in clear: not on the case, not on the timeline.
    assert any(entry["params"].get("text") == "超过三年" for entry in mine["timeline"])
    async with engine.connect() as connection:
        stored = (await connection.execute(text(
            "SELECT (SELECT c::text FROM complaint c WHERE c.id = :id) || "
            "(SELECT string_agg(e::text, ' ') FROM complaint_event e WHERE e.complaint_id = :id)"),
            {"id": uuid.UUID(filed["id"])})).scalar_one()
    assert "超过三年" not in stored
    assert "超过三年".encode().hex() not in stored
    assert filed["facts"] not in stored


@pytest.mark.parametrize("body", [{"ground": 8, "note": "x"}, {"ground": 0, "note": "x"}, {"ground": 1},
                                  {"ground": "1", "note": "x"}, {"ground": 1, "note": "x", "extra": 1}])
async def test_a_refusal_needs_a_ground_1_to_7_and_a_note(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, count: Count,
    body: dict[str, Any],
) -> None:
    region = area.first
    _, auth = consumer()
    filed = await file_case(client, auth, region)
    before = await count("outbox")

    response = await client.post(f"{REGULATOR}/{filed['id']}/refuse", json=body,
                                 headers=bearer(tokens.regulator(region=region)))

    assert response.status_code == 422
    assert await count("outbox") == before


async def test_a_regulator_of_another_county_can_neither_see_nor_decide(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, engine: AsyncEngine, count: Count,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, "632801")
    delingha = bearer(tokens.regulator(region="632802", sub="reg-delingha"))
    before = await count("complaint_event", "complaint_id = :id", id=uuid.UUID(filed["id"]))

    answers = [
        await client.get(f"{REGULATOR}/{filed['id']}", headers=delingha),
        await client.post(f"{REGULATOR}/{filed['id']}/accept", headers=delingha),
        await client.post(f"{REGULATOR}/{filed['id']}/refuse", json={"ground": 1, "note": "x"}, headers=delingha),
        await client.post(f"{REGULATOR}/{filed['id']}/route-to-merchant", json={"merchant_id": str(uuid.uuid4())},
                          headers=delingha),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert await count("complaint_event", "complaint_id = :id", id=uuid.UUID(filed["id"])) == before
    assert await count("pii_access", "complaint_id = :id", id=uuid.UUID(filed["id"])) == 0
    haixi = await client.get(f"{REGULATOR}/{filed['id']}",
                             headers=bearer(tokens.regulator(region="632800", sub="reg-haixi")))
    assert haixi.status_code == 200
    assert haixi.json()["complainant"]["phone"] == "138****8000"  # in full only through a logged reveal
    assert (await client.post(f"{REGULATOR}/{filed['id']}/accept",
                              headers=bearer(tokens.consumer()))).status_code == 403


async def test_the_regulator_routes_a_received_complaint_to_an_odr_enterprise(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
    enrolled_merchant: Seed,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region, name="格尔木家电城")
    _, auth = consumer()
    filed = await file_case(client, auth, region)

    response = await client.post(f"{REGULATOR}/{filed['id']}/route-to-merchant",
                                 json={"merchant_id": str(merchant_id)},
                                 headers=bearer(tokens.regulator(region=region)))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "with_merchant"
    assert body["respondent"]["merchant_id"] == str(merchant_id)
    assert body["respondent"]["name"] == "格尔木家电城"
    today = local_date(datetime.fromisoformat(body["updated_at"]))
    assert [(d["kind"], d["state"]) for d in body["deadlines"]] == [("initial_review", "met"),
                                                                   ("merchant_negotiation", "running")]
    assert body["deadlines"][1]["due_date"] == add_working_days(today, 10).isoformat()
    kind, routed = (await events_of(engine, filed["id"]))[-1]
    assert kind == "routed.v1"
    assert (routed["target"], routed["merchant_id"]) == ("merchant", str(merchant_id))
    assert routed["due_date"] == body["deadlines"][1]["due_date"]


async def test_only_an_active_odr_enterprise_can_be_routed_to(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, count: Count,
    enrolled_merchant: Seed, change_enrollment: ChangeEnrollment,
) -> None:
    region = area.first
    suspended = await enrolled_merchant(region)
    await change_enrollment(EnrollmentSuspended, suspended)
    _, auth = consumer()
    filed = await file_case(client, auth, region)
    before = await count("outbox")

    for merchant_id in (suspended, uuid.uuid4()):
        response = await client.post(f"{REGULATOR}/{filed['id']}/route-to-merchant",
                                     json={"merchant_id": str(merchant_id)},
                                     headers=bearer(tokens.regulator(region=region)))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.merchant_id"
    assert await count("outbox") == before


@pytest.mark.parametrize("route", ["with_merchant", "pending_acceptance", "accepted"])
async def test_the_consumer_withdraws_an_open_complaint(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
    enrolled_merchant: Seed, route: str,
) -> None:
    region = area.first
    _, auth = consumer()
    if route == "with_merchant":
        merchant_id = await enrolled_merchant(region)
        filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})
    else:
        filed = await file_case(client, auth, region)
    if route == "accepted":
        accepted = await client.post(f"{REGULATOR}/{filed['id']}/accept",
                                     headers=bearer(tokens.regulator(region=region)))
        assert accepted.status_code == 200
    assert (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).json()["status"] == route

    response = await client.post(f"{CONSUMER}/{filed['id']}/withdraw", headers=auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "withdrawn"
    assert body["closed_at"] is not None
    assert all(d["state"] in ("met", "ended") for d in body["deadlines"])
    assert body["timeline"][-1]["actor_role"] == "consumer"
    assert body["timeline"][-1]["code"] == "withdrawn"
    assert [kind for kind, _ in await events_of(engine, filed["id"])][-2:] == ["withdrawn.v1", "closed.v1"]
    again = await client.post(f"{CONSUMER}/{filed['id']}/withdraw", headers=auth)
    assert again.status_code == 409


async def test_only_the_owner_may_withdraw_or_rate(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, count: Count,
) -> None:
    _, owner = consumer()
    _, stranger = consumer()
    filed = await file_case(client, owner, area.first)
    before = await count("complaint_event", "complaint_id = :id", id=uuid.UUID(filed["id"]))

    withdrawn = await client.post(f"{CONSUMER}/{filed['id']}/withdraw", headers=stranger)
    rated = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 1}, headers=stranger)

    assert withdrawn.status_code == rated.status_code == 404
    assert await count("complaint_event", "complaint_id = :id", id=uuid.UUID(filed["id"])) == before


async def test_a_rating_comes_once_and_only_after_closure(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession], enrolled_merchant: Seed,
) -> None:
    region = area.first
    merchant_id = await enrolled_merchant(region)
    _, auth = consumer()
    filed = await file_case(client, auth, region, respondent={"merchant_id": str(merchant_id)})

    early = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 5}, headers=auth)
    assert early.status_code == 409
    await settle(sessionmaker, filed["id"], amount_fen=100)
    etag = (await client.get(f"{CONSUMER}/{filed['id']}", headers=auth)).headers["etag"]

    rated = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 4, "text": "处理及时"}, headers=auth)
    twice = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 1}, headers=auth)
    invalid = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 6}, headers=auth)

    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"]["score"] == 4
    assert rated.json()["rating"]["text"] == "处理及时"
    assert twice.status_code == 409
    assert invalid.status_code == 422
    assert (await client.get(f"{CONSUMER}/{filed['id']}", headers={**auth, "If-None-Match": etag})).status_code == 200
    kind, payload = (await events_of(engine, filed["id"]))[-1]
    assert (kind, payload["rating"], payload["merchant_id"]) == ("rated.v1", 4, str(merchant_id))
    async with engine.connect() as connection:
        stored = (await connection.execute(text("SELECT c::text AS whole, rating_text_enc FROM complaint c "
                                                "WHERE id = :id"), {"id": filed["id"]})).one()
    assert "处理及时" not in stored.whole
    assert "处理及时".encode().hex() not in stored.whole
    sealed_for = f"complaint:{filed['id']}:rating_text"
    assert PiiCipher(PII_KEY).decrypt(stored.rating_text_enc, context=sealed_for) == "处理及时"


async def test_a_withdrawn_complaint_cannot_be_rated(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    await client.post(f"{CONSUMER}/{filed['id']}/withdraw", headers=auth)

    response = await client.post(f"{CONSUMER}/{filed['id']}/rating", json={"score": 3}, headers=auth)

    assert response.status_code == 409
