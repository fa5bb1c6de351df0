"""Personal data on the regulator's side: the case detail masks the parties, a reveal with a purpose shows them and
is logged in the same transaction, a supervisor audits the log, and the consumer sees who (role, bureau) read it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from complaints_support import Area, Consumer, Count, bearer, file_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.auth import Audience, Role
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens

REGULATOR = "/v1/regulator/complaints"
CONSUMER = "/v1/consumer/complaints"
COMPLAINANT = {"name": "王芳芳", "phone": "13812348000", "address": "青海省格尔木市昆仑中路12号",
               "id_number": "632801199001011239"}
AGENT = {"name": "李律师", "phone": "13900139000", "id_number": "11010519491231002X",
         "power_of_attorney": {"matters": "代为投诉", "powers": "陈述、提交材料",
                               "valid_until": (local_date(utcnow()) + timedelta(days=365)).isoformat()}}
JOINT = {"consumers": [{"name": "张三", "phone": "13700137000"}], "representatives": [0], "consented": True}
REASON = {"purpose": "contact_party", "note": "电话联系投诉人核实购买经过"}


def mediator(tokens: Tokens, region: str) -> dict[str, str]:
    return bearer(tokens.issuer.issue(sub="med-1", aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region=region))


async def test_the_detail_is_masked_and_a_reveal_with_a_purpose_shows_the_parties_and_is_logged(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine, count: Count,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first, complainant=COMPLAINANT, agent=AGENT, joint=JOINT)
    haixi = bearer(tokens.regulator(region=area.prefecture, sub="reg-haixi"))

    detail = (await client.get(f"{REGULATOR}/{filed['id']}", headers=haixi)).json()

    assert detail["complainant"] == {"name": "王**", "phone": "138****8000", "address": "青海省格尔木****",
                                     "id_number": "632***********1239"}
    assert (detail["parties"]["agent"]["name"], detail["parties"]["agent"]["id_number"]) == (
        "李**", "110***********002X")
    assert detail["parties"]["joint"]["consumers"] == [{"name": "张*", "phone": "137****7000", "address": None,
                                                        "id_number": None}]
    assert await count("pii_access", "complaint_id = :id", id=uuid.UUID(filed["id"])) == 0

    revealed = await client.post(f"{REGULATOR}/{filed['id']}/reveal", json=REASON, headers=haixi)

    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert body["complainant"] == COMPLAINANT
    assert body["parties"]["agent"] == AGENT
    assert body["parties"]["joint"]["consumers"][0]["phone"] == "13700137000"
    assert body["fields"] == ["name", "phone", "address", "id_number", "agent", "joint"]
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM pii_access WHERE complaint_id = :id"),
                                        {"id": uuid.UUID(filed["id"])})).mappings().one()
    assert (row["actor_sub"], row["actor_role"], row["actor_region"], row["purpose"]) == (
        "reg-haixi", "regulator", area.prefecture, "contact_party")
    assert row["fields"] == body["fields"]
    assert REASON["note"].encode() not in bytes(row["note_enc"])

    log = await client.get(f"{REGULATOR}/{filed['id']}/access-log",
                           headers=bearer(tokens.regulator(region=area.first, sub="reg-supervisor")))
    assert log.status_code == 200, log.text
    assert [(e["actor_sub"], e["actor_role"], e["purpose"], e["note"]) for e in log.json()["items"]] == [
        ("reg-haixi", "regulator", "contact_party", REASON["note"])]

    mine = await client.get(f"{CONSUMER}/{filed['id']}/access-log", headers=auth)
    assert mine.status_code == 200, mine.text
    [seen] = mine.json()["items"]
    assert seen == {"at": seen["at"], "role": "regulator", "region_code": area.prefecture,
                    "region_name": seen["region_name"], "fields": body["fields"], "purpose": "contact_party"}
    assert seen["region_name"]
    assert "reg-haixi" not in mine.text
    assert REASON["note"] not in mine.text


async def test_a_reveal_shows_only_the_fields_asked_for(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first, complainant=COMPLAINANT)

    revealed = await client.post(f"{REGULATOR}/{filed['id']}/reveal", headers=mediator(tokens, area.first),
                                 json={**REASON, "purpose": "mediation", "fields": ["phone", "agent"]})

    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert body["fields"] == ["phone"]  # the case has no agent: only what was shown is listed and logged
    assert body["complainant"] == {**COMPLAINANT, "name": "王**", "address": "青海省格尔木****",
                                   "id_number": "632***********1239"}
    supervisor = bearer(tokens.regulator(region=area.first))
    [entry] = (await client.get(f"{REGULATOR}/{filed['id']}/access-log", headers=supervisor)).json()["items"]
    assert (entry["actor_role"], entry["fields"], entry["purpose"]) == ("mediator", ["phone"], "mediation")


async def test_a_refused_reveal_shows_nothing_and_logs_nothing(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, count: Count,
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first, complainant=COMPLAINANT)
    path = f"{REGULATOR}/{filed['id']}"
    golmud = bearer(tokens.regulator(region=area.first))
    anonymous = await file_case(client, auth, area.first, kind="report", green_channel=False, complainant=None)

    answers = {
        "no reason": await client.post(f"{path}/reveal", json={}, headers=golmud),
        "blank note": await client.post(f"{path}/reveal", json={"purpose": "other", "note": "  "}, headers=golmud),
        "unknown purpose": await client.post(f"{path}/reveal", json={**REASON, "purpose": "case_detail"},
                                             headers=golmud),
        "other region": await client.post(f"{path}/reveal", json=REASON,
                                          headers=bearer(tokens.regulator(region=area.second))),
        "consumer": await client.post(f"{path}/reveal", json=REASON, headers=auth),
        "anonymous report": await client.post(f"{REGULATOR}/{anonymous['id']}/reveal", json=REASON, headers=golmud),
        "mediator reads the log": await client.get(f"{path}/access-log", headers=mediator(tokens, area.first)),
        "other region's log": await client.get(f"{path}/access-log",
                                               headers=bearer(tokens.regulator(region=area.second))),
        "another consumer's log": await client.get(f"{CONSUMER}/{filed['id']}/access-log",
                                                   headers=bearer(tokens.consumer("someone-else"))),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "no reason": 422, "blank note": 422, "unknown purpose": 422, "other region": 404, "consumer": 403,
        "anonymous report": 409, "mediator reads the log": 403, "other region's log": 404,
        "another consumer's log": 404}
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers.values())
    assert await count("pii_access", "complaint_id IN (:one, :two)", one=uuid.UUID(filed["id"]),
                       two=uuid.UUID(anonymous["id"])) == 0
