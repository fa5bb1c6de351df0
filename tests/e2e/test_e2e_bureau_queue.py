"""A bureau's day through the gateway (issue 13): issue types and their statistics, a transfer to the competent
bureau, a hotline operator filing for a caller, and the work queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import holidays
import httpx
import pytest

from merchants.credentials.hashing import hash_secret

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOLMUD, DELINGHA = "632801", "632802"
QUEUE = "/v1/regulator/complaints"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def independent_due_date(start: date, working_days: int) -> date:
    """`working_days` working days after `start` (not counted), from the holidays package's China calendar."""
    china = holidays.country_holidays("CN", years=range(start.year, start.year + 2))
    weekend_workdays = set(china.weekend_workdays)
    day, counted = start, 0
    while counted < working_days:
        day += timedelta(days=1)
        if day in weekend_workdays or (day.weekday() < 5 and day not in china):
            counted += 1
    return day


async def _staff_token(gateway: httpx.AsyncClient, dsn: str, *, role: str, region: str) -> str:
    """A staff account made as the staff CLI makes it (a row in merchants), then the password grant."""
    username, password = f"e2e-{role}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO staff_account (id, username, password_hash, role, region_code, display_name) "
            "VALUES ($1, $2, $3, $4, $5, $6)", uuid.uuid4(), username, hash_secret(password), role, region,
            f"{role} {region}")
    finally:
        await connection.close()
    response = await gateway.post("/auth/token", data={"grant_type": "password", "username": username,
                                                       "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
async def delingha_token(gateway: httpx.AsyncClient, database_dsn: Callable[[str], str]) -> str:
    return await _staff_token(gateway, database_dsn("merchants"), role="regulator", region=DELINGHA)


@pytest.fixture(scope="module")
async def hotline_token(gateway: httpx.AsyncClient, database_dsn: Callable[[str], str]) -> str:
    return await _staff_token(gateway, database_dsn("merchants"), role="hotline", region="632800")


def body(**changes: Any) -> dict[str, Any]:
    filed = {
        "kind": "complaint",
        "complainant": {"name": "李强", "phone": "13900139000", "address": "青海省格尔木市柴达木路3号"},
        "respondent": {"name": "格尔木昆仑眼镜店", "region_code": GOLMUD},
        "request": {"type": "refund", "amount_fen": 58000},
        "facts": "店内宣传为纯钛镜架，实际为合金。",
        "sector": "retail",
        "issue_type": "false_advertising",
    }
    return filed | changes


async def test_a_transfer_reaches_the_competent_bureau_and_leaves_the_sender(
    gateway: httpx.AsyncClient, consumer_token: str, regulator_token: str, delingha_token: str,
) -> None:
    filed = await gateway.post("/v1/consumer/complaints", json=body(), headers=auth(consumer_token))
    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert (case["status"], case["region_code"], case["issue_type"]) == ("pending_acceptance", GOLMUD,
                                                                        "false_advertising")
    queued = await gateway.get(QUEUE, params={"issue_type": "false_advertising"}, headers=auth(regulator_token))
    assert case["id"] in {item["id"] for item in queued.json()["items"]}

    moved = await gateway.post(f"{QUEUE}/{case['id']}/transfer",
                               json={"to_region": DELINGHA, "reason": "经营者实际经营地在德令哈市"},
                               headers=auth(regulator_token))

    assert moved.status_code == 200, moved.text
    transfer_day = datetime.fromisoformat(moved.json()["transferred_at"]).astimezone(SHANGHAI).date()
    expected_due = independent_due_date(transfer_day, 7)
    received = await gateway.get(f"{QUEUE}/{case['id']}", headers=auth(delingha_token))
    assert received.status_code == 200, received.text
    detail = received.json()
    assert (detail["region_code"], detail["status"]) == (DELINGHA, "pending_acceptance")
    running = [(d["kind"], d["due_date"]) for d in detail["deadlines"] if d["state"] == "running"]
    assert running == [("initial_review", expected_due.isoformat())]
    sender_view = await gateway.get(f"{QUEUE}/{case['id']}", headers=auth(regulator_token))
    assert sender_view.status_code == 404
    assert sender_view.headers["content-type"].startswith("application/problem+json")
    sender_queue = await gateway.get(QUEUE, headers=auth(regulator_token))
    assert case["id"] not in {item["id"] for item in sender_queue.json()["items"]}
    receiver_queue = await gateway.get(QUEUE, params={"status": "pending_acceptance"}, headers=auth(delingha_token))
    assert case["id"] in {item["id"] for item in receiver_queue.json()["items"]}
    mine = (await gateway.get(f"/v1/consumer/complaints/{case['id']}", headers=auth(consumer_token))).json()
    [entry] = [entry for entry in mine["timeline"] if entry["code"] == "transferred"]
    assert entry["params"] == {"from_region": GOLMUD, "to_region": DELINGHA, "reason": "经营者实际经营地在德令哈市"}

    again = await gateway.post(f"{QUEUE}/{case['id']}/transfer", json={"to_region": GOLMUD, "reason": "x"},
                               headers=auth(regulator_token))
    assert again.status_code == 404
    corrected = await gateway.post(f"{QUEUE}/{case['id']}/issue-type", json={"issue_type": "quality"},
                                   headers=auth(delingha_token))
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["issue_type"] == "quality"


async def test_a_hotline_operator_files_for_a_caller_on_the_hotline_channel(
    gateway: httpx.AsyncClient, hotline_token: str, regulator_token: str,
) -> None:
    filed = await gateway.post("/v1/regulator/hotline-complaints", json=body(issue_type="price"),
                               headers=auth(hotline_token))

    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert (case["channel"], case["issue_type"], case["timeline"][0]["actor_role"]) == ("hotline", "price",
                                                                                        "hotline")
    queue = await gateway.get(QUEUE, params={"channel": "hotline", "issue_type": "price"},
                              headers=auth(regulator_token))
    assert case["id"] in {item["id"] for item in queue.json()["items"]}
    not_staff = await gateway.post("/v1/regulator/hotline-complaints", json=body(), headers=auth(regulator_token))
    assert not_staff.status_code == 403


async def test_statistics_by_issue_type_equal_the_counts_of_the_rows(
    gateway: httpx.AsyncClient, regulator_token: str, database_dsn: Callable[[str], str], consumer_token: str,
) -> None:
    for issue_type in ("price", "safety", "safety"):
        response = await gateway.post("/v1/consumer/complaints", json=body(issue_type=issue_type),
                                      headers=auth(consumer_token))
        assert response.status_code == 201, response.text
    today = datetime.now(SHANGHAI).date()
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}

    stats = await gateway.get("/v1/regulator/stats", params={"group_by": "issue_type", **period},
                              headers=auth(regulator_token))

    assert stats.status_code == 200, stats.text
    connection = await asyncpg.connect(database_dsn("complaints"))
    try:
        rows = await connection.fetch(
            "SELECT issue_type, count(*) AS received, count(*) FILTER (WHERE kind = 'report') AS reports "
            "FROM complaint WHERE region_code LIKE $1 AND (filed_at AT TIME ZONE 'Asia/Shanghai')::date "
            "BETWEEN $2 AND $3 GROUP BY issue_type ORDER BY issue_type",
            f"{GOLMUD}%", date.fromisoformat(period["from"]), date.fromisoformat(period["to"]))
    finally:
        await connection.close()
    groups = stats.json()["groups"]
    assert [(g["key"], g["received"], g["reports"]) for g in groups] == [
        (row["issue_type"], row["received"], row["reports"]) for row in rows]
    assert {"price", "safety"} <= {g["key"] for g in groups}
    assert stats.json()["received"] == sum(row["received"] for row in rows)
