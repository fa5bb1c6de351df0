"""Bad requests: malformed JSON, wrong types, missing and unknown fields, invalid values -> 4xx problems, no writes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from complaints_support import Consumer, Count, complaint_body, unregistered

from servicekit.calendar import local_date
from servicekit.db import utcnow

PATH = "/v1/consumer/complaints"
TABLES = ("complaint", "complaint_event", "deadline", "outbox", "idempotency_key", "case_number_counter", "evidence")


def without(path: str) -> dict[str, Any]:
    body = complaint_body()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


def with_value(path: str, value: Any) -> dict[str, Any]:
    body = complaint_body()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()
YESTERDAY = (local_date(utcnow()) - timedelta(days=1)).isoformat()
POWER = {"matters": "就本投诉与经营者协商、参加调解", "powers": "代为陈述、提交材料", "valid_until": TOMORROW}
AGENT = {"name": "李律师", "phone": "13900139000", "id_number": "11010519491231002X", "power_of_attorney": POWER}
SELLER = {"platform": "某电商平台", "platform_region_code": "630103", "store": "昆仑特产店"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (with_value("request.amount_fen", "29900"), "body.request.amount_fen"),          # a string, not an integer
        (with_value("green_channel", "yes"), "body.green_channel"),                      # a string, not a boolean
        (with_value("complainant", "王芳"), "body.complainant"),                         # a string, not an object
        (without("facts"), "body.facts"),
        (without("complainant.phone"), "body.complainant.phone"),
        (with_value("priority", "urgent"), "body.priority"),                             # unknown field
        (with_value("complainant.id_number", "630000199001011234"), "body.complainant.id_number"),
        (with_value("complainant.phone", "12800138000"), "body.complainant.phone"),      # no such mobile prefix
        (with_value("complainant.phone", "1380013800"), "body.complainant.phone"),       # ten digits
        (with_value("purchase.date", TOMORROW), "body.purchase.date"),
        (with_value("request.amount_fen", -1), "body.request.amount_fen"),
        (with_value("purchase.amount_fen", -100), "body.purchase.amount_fen"),
        (with_value("facts", "x" * 5001), "body.facts"),
        (with_value("facts", "   "), "body.facts"),
        (with_value("request.type", "apology"), "body.request.type"),
        (with_value("channel", "fax"), "body.channel"),
        (with_value("respondent", {}), "body.respondent"),
        (with_value("respondent", {"name": "无地区商店"}), "body.respondent"),
        (with_value("respondent", {"merchant_id": "not-a-uuid"}), "body.respondent.merchant_id"),
        (with_value("respondent", {"name": "某店", "region_code": "6328"}), "body.respondent.region_code"),
        (with_value("respondent", {"name": "某店", "region_code": "999999"}), "body.respondent.region_code"),
        (with_value("respondent", {"name": "某店", "region_code": "632801", "uscc": "92632801MA7YYYYY1R"}),
         "body.respondent.uscc"),
        (with_value("respondent", {"name": "某店", "region_code": "632801", "uscc": "92632801MA7YYYYY1"}),
         "body.respondent.uscc"),
        (with_value("respondent", {"name": "网店", "online": {**SELLER, "platform_region_code": "639999"}}),
         "body.respondent.online.platform_region_code"),
        (with_value("respondent", {"name": "网店", "online": {**SELLER, "displayed_region_code": "000001"}}),
         "body.respondent.online.displayed_region_code"),
        (with_value("respondent", {"name": "网店", "online": {"platform": "某平台", "store": "x"}}),
         "body.respondent.online.platform_region_code"),
        (with_value("sector", "space_travel"), "body.sector"),
        (with_value("category", "food.moon_cheese"), "body.category"),
        (with_value("agent", {**AGENT, "id_number": "110105194912310021"}), "body.agent.id_number"),
        (with_value("agent", {**AGENT, "power_of_attorney": {**POWER, "valid_until": YESTERDAY}}),
         "body.agent.power_of_attorney.valid_until"),
        (with_value("agent", {key: value for key, value in AGENT.items() if key != "power_of_attorney"}),
         "body.agent.power_of_attorney"),
        (with_value("joint", {"consumers": [], "consented": True}), "body.joint.consumers"),
        (with_value("joint", {"consumers": [{"name": "张三", "phone": "13700137000"}], "consented": False}),
         "body.joint"),
        (with_value("joint", {"consumers": [{"name": "张三", "phone": "13700137000"}], "consented": True,
                              "representatives": [0, 1, 1]}), "body.joint.representatives"),
        (with_value("joint", {"consumers": [{"name": "张三", "phone": "13700137000"}], "consented": True,
                              "representatives": [2]}), "body.joint"),
        (complaint_body(respondent=unregistered("632801"), evidence_ids=[str(uuid.uuid4())]), "body.evidence_ids"),
    ],
)
async def test_invalid_bodies_are_422_problems_with_the_field_and_write_nothing(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, body: dict[str, Any], field: str,
) -> None:
    _, auth = consumer()
    before = [await count(table) for table in TABLES]

    response = await client.post(PATH, json=body, headers=auth)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert field in [error["field"] for error in problem["errors"]]
    assert [await count(table) for table in TABLES] == before


@pytest.mark.parametrize("content", [b'{"kind": "complaint", ', b"not json", b'{"facts": "\xff"}'])
async def test_malformed_json_is_a_400_problem(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, content: bytes,
) -> None:
    _, auth = consumer()
    before = [await count(table) for table in TABLES]

    response = await client.post(PATH, content=content, headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/malformed-request"
    assert [await count(table) for table in TABLES] == before


async def test_chinese_titles_on_request(client: httpx.AsyncClient, consumer: Consumer) -> None:
    _, auth = consumer()

    response = await client.post(PATH, json=without("facts"), headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9"})

    assert response.json()["title"] == "请求中有字段不合法"
