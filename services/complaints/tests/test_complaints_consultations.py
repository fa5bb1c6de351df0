"""Consultations (咨询): asked by a consumer or recorded by staff for someone, answered by the bureau within its
working-day clock, breached when the clock runs out, counted in the statistics, and turned into a complaint."""

from __future__ import annotations

import random
import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from complaints_support import Area, Consumer, bearer, unregistered
from cryptography.exceptions import InvalidTag
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.consultation.service import sweep_breaches
from complaints.settings import ComplaintsSettings
from servicekit.auth import Audience, Role, consumer_subject
from servicekit.calendar import is_working_day, local_date
from servicekit.db import utcnow
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

ASK = "/v1/consumer/consultations"
STAFF = "/v1/regulator/consultations"


def question(region: str, **changes: Any) -> dict[str, Any]:
    return {"question": "网购的枸杞不新鲜，可以七天无理由退货吗？", "sector": "online_shopping", "region_code": region,
            **changes}


def working_days_later(start: date, count: int) -> date:
    """Independently of servicekit's add_working_days: step day by day, counting working days after `start`."""
    day = start
    while count:
        day += timedelta(days=1)
        count -= is_working_day(day)
    return day


async def test_a_consumer_asks_and_the_bureau_answers_within_its_clock(
    client: httpx.AsyncClient, tokens: Tokens, consumer: Consumer, area: Area, settings: ComplaintsSettings,
) -> None:
    _, auth = consumer()
    key = {"Idempotency-Key": uuid.uuid4().hex}

    asked = await client.post(ASK, json=question(area.first), headers={**auth, **key})
    again = await client.post(ASK, json=question(area.first), headers={**auth, **key})

    assert asked.status_code == 201, asked.text
    body = asked.json()
    today = local_date(utcnow())
    assert re.fullmatch(rf"ZX-{area.first}-{today:%Y%m%d}-\d{{6}}", body["case_no"])
    assert body["status"] == "open"
    assert body["channel"] == "app"
    assert body["clock"] == {"working_days": settings.consultation_answer_working_days, "state": "running",
                             "due_date": working_days_later(today, settings.consultation_answer_working_days)
                             .isoformat(), "breached_at": None}
    assert again.status_code == 201
    assert again.json() == body
    mine = (await client.get(ASK, headers=auth)).json()["items"]
    assert [item["id"] for item in mine] == [body["id"]]

    regulator = bearer(tokens.regulator(region=area.prefecture))
    listed = (await client.get(STAFF, params={"region": area.first}, headers=regulator)).json()["items"]
    assert body["id"] in [item["id"] for item in listed]
    elsewhere = bearer(tokens.regulator(region="632802" if not area.first.startswith("6328") else "630102"))
    assert (await client.post(f"{STAFF}/{body['id']}/answer", json={"answer": "x"}, headers=elsewhere)).status_code \
        == 404

    reply = {"answer": "可以，网购商品签收后七日内无理由退货（生鲜等除外）。"}
    answered = await client.post(f"{STAFF}/{body['id']}/answer", json=reply, headers=regulator)
    twice = await client.post(f"{STAFF}/{body['id']}/answer", json={"answer": "再答"}, headers=regulator)

    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert answered.json()["clock"]["state"] == "met"
    assert twice.status_code == 409
    seen = (await client.get(f"{ASK}/{body['id']}", headers=auth)).json()
    assert seen["answer"].startswith("可以")
    assert [e["status"] for e in seen["timeline"]] == ["open", "answered"]
    still_open = (await client.get(STAFF, params={"region": area.first}, headers=regulator)).json()["items"]
    assert body["id"] not in [item["id"] for item in still_open]
    other = bearer(tokens.consumer(f"consumer-{uuid.uuid4().hex[:8]}"))
    assert (await client.get(f"{ASK}/{body['id']}", headers=other)).status_code == 404


async def test_an_unanswered_clock_runs_out_and_a_late_answer_stays_late(
    client: httpx.AsyncClient, tokens: Tokens, consumer: Consumer, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    body = (await client.post(ASK, json=question(area.second), headers=auth)).json()
    async with engine.connect() as connection:
        due_at = (await connection.execute(text("SELECT due_at FROM consultation WHERE id = :id"),
                                           {"id": body["id"]})).scalar_one()

    assert await sweep_breaches(sessionmaker, now=due_at - timedelta(seconds=1)) >= 0
    assert (await client.get(f"{ASK}/{body['id']}", headers=auth)).json()["clock"]["state"] == "running"
    await sweep_breaches(sessionmaker, now=due_at)
    breached = (await client.get(f"{ASK}/{body['id']}", headers=auth)).json()
    assert breached["status"] == "open"
    assert breached["clock"]["state"] == "breached"

    late = await client.post(f"{STAFF}/{body['id']}/answer", json={"answer": "迟到的答复"},
                             headers=bearer(tokens.regulator(region=area.prefecture)))

    assert late.json()["status"] == "answered"
    assert late.json()["clock"]["state"] == "breached"


async def test_staff_record_a_question_for_a_caller_or_walk_in_keeping_the_channel(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, settings: ComplaintsSettings,
) -> None:
    phone = f"139{random.randrange(10**8):08d}"
    asker = {"name": "才让", "phone": phone}
    hotline = bearer(tokens.regulator(region=area.prefecture, sub="hotline-desk"))
    station_id = uuid.uuid4()
    station = bearer(tokens.issuer.issue(sub="station-staff-1", aud=Audience.REGULATOR, roles=[Role.STATION_STAFF],
                                         region=area.prefecture, station_id=station_id))

    by_phone = await client.post(STAFF, json={**question(area.first), "asker": asker}, headers=hotline)
    at_station = await client.post(STAFF, json={**question(area.first), "asker": asker}, headers=station)
    outside = await client.post(STAFF, json={**question("632801" if area.prefecture != "632800" else "630102"),
                                             "asker": asker}, headers=hotline)

    assert by_phone.status_code == at_station.status_code == 201, (by_phone.text, at_station.text)
    assert by_phone.json()["channel"] == "hotline"
    assert at_station.json()["channel"] == "station"
    assert by_phone.json()["asker"] is None  # the filing's answer, like the consumer's view, carries no asker
    assert outside.status_code == 403
    detail = (await client.get(f"{STAFF}/{by_phone.json()['id']}", headers=hotline)).json()
    assert detail["asker"] == asker
    own_login = bearer(tokens.consumer(consumer_subject(phone, settings.subject_key.get_secret_value())))
    theirs = (await client.get(ASK, headers=own_login)).json()["items"]
    assert {item["id"] for item in theirs} == {by_phone.json()["id"], at_station.json()["id"]}
    assert "asker" not in (await client.get(f"{ASK}/{by_phone.json()['id']}", headers=own_login)).json() or \
        (await client.get(f"{ASK}/{by_phone.json()['id']}", headers=own_login)).json()["asker"] is None


async def test_a_consultation_becomes_a_complaint_without_retyping_once(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    asked = (await client.post(ASK, json=question(area.third, sector="catering_entertainment"), headers=auth)).json()
    extra = {"complainant": {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号"},
             "respondent": unregistered(area.third), "request": {"type": "refund", "amount_fen": 3500}}

    filed = await client.post(f"{ASK}/{asked['id']}/complaint", json=extra, headers=auth)
    twice = await client.post(f"{ASK}/{asked['id']}/complaint", json=extra, headers=auth)
    someone_else = await client.post(f"{ASK}/{asked['id']}/complaint", json=extra, headers=consumer()[1])

    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert complaint["case_no"].startswith(f"TS-{area.third}-")
    assert complaint["facts"] == asked["question"]
    assert complaint["sector"] == "catering_entertainment"
    assert complaint["status"] == "pending_acceptance"
    assert twice.status_code == 409
    assert someone_else.status_code == 404
    linked = (await client.get(f"{ASK}/{asked['id']}", headers=auth)).json()
    assert linked["complaint_id"] == complaint["id"]
    assert linked["timeline"][-1]["note"] == "Filed as a complaint"
    async with engine.connect() as connection:
        filed_from = (await connection.execute(text(
            "SELECT count(*) FROM complaint WHERE id = :complaint AND consumer_id = "
            "(SELECT consumer_id FROM consultation WHERE id = :id)"),
            {"complaint": complaint["id"], "id": asked["id"]})).scalar_one()
        details = (await connection.execute(text(
            "SELECT details FROM complaint_event WHERE complaint_id = :id AND status = 'submitted'"),
            {"id": complaint["id"]})).scalar_one()
    assert filed_from == 1
    assert details["consultation_id"] == asked["id"]
    assert details["consultation_case_no"] == asked["case_no"]
    assert details["code"] == "filed_from_consultation"
    assert complaint["timeline"][0]["code"] == "filed_from_consultation"
    assert complaint["timeline"][0]["params"]["consultation_case_no"] == asked["case_no"]


async def test_consultations_are_counted_in_the_statistics(
    client: httpx.AsyncClient, tokens: Tokens, consumer: Consumer, area: Area,
) -> None:
    regulator = bearer(tokens.regulator(region=area.prefecture))
    today = local_date(utcnow())
    period = {"region": area.prefecture, "from": today.isoformat(), "to": today.isoformat()}

    async def stats(**query: str) -> dict[str, Any]:
        response = await client.get("/v1/regulator/stats", params={**period, **query}, headers=regulator)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def consultations(groups: list[dict[str, Any]]) -> int:
        return sum(group["consultations"] for group in groups if group["key"] == "consultation")

    before, before_by_kind = await stats(), await stats(group_by="kind")
    before_complaints = await stats(kind="complaint")
    ids = []
    for index in range(5):
        _, auth = consumer()
        county = area.counties[index % len(area.counties)]
        ids.append((await client.post(ASK, json=question(county), headers=auth)).json()["id"])
    for consultation_id in ids[:3]:
        await client.post(f"{STAFF}/{consultation_id}/answer", json={"answer": "答复"}, headers=regulator)

    after, by_kind, complaints_only = await stats(), await stats(group_by="kind"), await stats(kind="complaint")

    assert (after["consultations"] - before["consultations"],
            after["consultations_answered"] - before["consultations_answered"],
            after["consultations_answered_on_time"] - before["consultations_answered_on_time"]) == (5, 3, 3)
    assert after["received"] == before["received"]
    assert consultations(by_kind["groups"]) - consultations(before_by_kind["groups"]) == 5
    assert complaints_only == before_complaints
    assert complaints_only["consultations"] == 0


async def test_the_question_and_answer_are_kept_encrypted_and_read_back(
    client: httpx.AsyncClient, tokens: Tokens, consumer: Consumer, area: Area, settings: ComplaintsSettings,
    engine: AsyncEngine,
) -> None:
    _, auth = consumer()
    phone = f"139{random.randint(0, 99_999_999):08d}"
    asked_text = f"我是{area.first}的住户，电话{phone}，买的枸杞发霉了怎么办？"
    reply_text = f"请联系商家，{phone}的来电已登记。"
    asked = (await client.post(ASK, json=question(area.first, question=asked_text), headers=auth)).json()
    regulator = bearer(tokens.regulator(region=area.prefecture))
    answered = await client.post(f"{STAFF}/{asked['id']}/answer", json={"answer": reply_text}, headers=regulator)
    assert answered.status_code == 200, answered.text
    seen = (await client.get(f"{ASK}/{asked['id']}", headers=auth)).json()
    assert (asked["question"], seen["question"], seen["answer"]) == (asked_text, asked_text, reply_text)

    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT c::text AS whole, question_enc, answer_enc FROM consultation c WHERE id = :id"),
            {"id": asked["id"]})).one()
    assert phone not in row.whole
    assert phone.encode().hex() not in row.whole
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    consultation_id = uuid.UUID(asked["id"])
    assert cipher.decrypt(row.question_enc, context=f"consultation:{consultation_id}:question") == asked_text
    assert cipher.decrypt(row.answer_enc, context=f"consultation:{consultation_id}:answer") == reply_text
    with pytest.raises(InvalidTag):
        cipher.decrypt(row.answer_enc, context=f"consultation:{consultation_id}:question")
