"""Reports (举报): anonymous intake, the split of a submission that is both, the decision and its clock; the reporter's
identity never reaches an event."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from complaints_support import PII_KEY, Area, Consumer, Count, Seed, bearer, complaint_body, file_case, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint.service import sweep_breaches
from complaints.database import outbox
from complaints.publisher import Publisher
from servicekit.calendar import add_working_days, end_of_day, local_date
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

CONSUMER = "/v1/consumer/complaints"
REPORTS = "/v1/regulator/reports"


async def outbox_payloads(engine: AsyncEngine, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY seq"), {"id": case_id})
        return [(row.event_type, row.payload) for row in rows]


async def test_an_anonymous_report_is_received_with_a_15_working_day_clock(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
) -> None:
    region = area.first
    sub, auth = consumer()
    body = complaint_body(kind="report", respondent=unregistered(region), facts="该店销售过期食品。")
    del body["complainant"]

    response = await client.post(CONSUMER, json=body, headers=auth)

    assert response.status_code == 201, response.text
    report = response.json()
    filed_on = local_date(datetime.fromisoformat(report["filed_at"]))
    assert re.fullmatch(rf"JB-{region}-{filed_on:%Y%m%d}-\d{{6}}", report["case_no"])
    assert (report["kind"], report["status"], report["complainant"]) == ("report", "received", None)
    assert [(d["kind"], d["due_date"], d["state"]) for d in report["deadlines"]] == [
        ("report_verification", add_working_days(filed_on, 15).isoformat(), "running")]
    assert [(e["status"], e["actor_role"]) for e in report["timeline"]] == [("received", "consumer")]
    events = await outbox_payloads(engine, report["id"])
    assert [event_type for event_type, _ in events] == ["complaints.complaint.filed.v1"]
    assert events[0][1]["kind"] == "report"
    assert sub not in str(events)
    mine = await client.get(f"{CONSUMER}/{report['id']}", headers=auth)
    assert mine.json()["status"] == "received"


async def test_a_complaint_needs_the_complainant(client: httpx.AsyncClient, consumer: Consumer, count: Count) -> None:
    _, auth = consumer()
    before = await count("complaint")
    for kind in ("complaint", "both"):
        body = complaint_body(kind=kind)
        del body["complainant"]
        response = await client.post(CONSUMER, json=body, headers=auth)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.complainant"
    assert await count("complaint") == before


async def test_a_submission_of_both_is_split_into_a_linked_complaint_and_report(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, own_area: Area, engine: AsyncEngine,
    tokens: Tokens,
) -> None:
    region = own_area.first
    merchant_id = await enrolled_merchant(region)
    sub, auth = consumer()

    response = await client.post(
        CONSUMER, json=complaint_body(kind="both", respondent={"merchant_id": str(merchant_id)}), headers=auth)

    assert response.status_code == 201, response.text
    complaint = response.json()
    assert (complaint["kind"], complaint["status"]) == ("complaint", "with_merchant")
    assert complaint["case_no"].startswith(f"TS-{region}-")
    report_id = complaint["linked_case_id"]
    assert report_id is not None
    report = (await client.get(f"{CONSUMER}/{report_id}", headers=auth)).json()
    assert (report["kind"], report["status"], report["linked_case_id"]) == ("report", "received", complaint["id"])
    assert report["case_no"].startswith(f"JB-{region}-")
    assert report["complainant"]["name"] == "王芳"
    assert report["green_channel"] is False
    report_events = await outbox_payloads(engine, report_id)
    assert [event_type for event_type, _ in report_events] == ["complaints.complaint.filed.v1"]
    # Nothing that serves the enterprise can tie the report to it (Art. 37); the complaint names it as usual.
    assert report_events[0][1]["merchant_id"] is None
    assert (await outbox_payloads(engine, complaint["id"]))[0][1]["merchant_id"] == str(merchant_id)
    for secret in ("王芳", "13800138000", "138****8000", sub, "昆仑中路"):
        assert secret not in str(report_events)
    listed = await client.get("/v1/regulator/complaints", params={"kind": "report"},
                              headers=bearer(tokens.regulator(region=region)))
    assert [item["id"] for item in listed.json()["items"]] == [report_id]


async def test_the_regulator_decides_a_report_within_its_clock(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, engine: AsyncEngine,
) -> None:
    region = area.first
    _, auth = consumer()
    report = await file_case(client, auth, region, kind="report")
    regulator = bearer(tokens.regulator(region=region, sub="reg-r"))

    verifying = await client.post(f"{REPORTS}/{report['id']}/verification", headers=regulator)
    decided = await client.post(f"{REPORTS}/{report['id']}/decision",
                                json={"case_opened": True, "reason": "经核查存在违法线索"}, headers=regulator)
    again = await client.post(f"{REPORTS}/{report['id']}/decision",
                              json={"case_opened": False, "reason": "重复"}, headers=regulator)

    assert verifying.status_code == 200, verifying.text
    assert verifying.json()["status"] == "verifying"
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "case_opened"
    assert body["report_decision"] == {"case_opened": True, "reason": "经核查存在违法线索"}
    assert [(d["kind"], d["state"]) for d in body["deadlines"]] == [("report_verification", "met")]
    assert [(e["status"], e["actor_role"]) for e in body["timeline"]][-2:] == [
        ("verifying", "regulator"), ("case_opened", "regulator")]
    assert again.status_code == 409
    events = await outbox_payloads(engine, report["id"])
    assert [(t.rsplit(".", 2)[-2], p.get("status")) for t, p in events][1:] == [
        ("report_status_changed", "verifying"), ("report_status_changed", "case_opened")]
    assert all(payload["merchant_id"] is None for _, payload in events)
    assert "王芳" not in str(events)


async def test_a_report_not_opened_and_the_complaint_endpoints_do_not_apply(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    region = area.first
    _, auth = consumer()
    report = await file_case(client, auth, region, kind="report")
    complaint = await file_case(client, auth, region)
    regulator = bearer(tokens.regulator(region=region))

    accept_a_report = await client.post(f"/v1/regulator/complaints/{report['id']}/accept", headers=regulator)
    decide_a_complaint = await client.post(f"{REPORTS}/{complaint['id']}/decision",
                                           json={"case_opened": True, "reason": "x"}, headers=regulator)
    not_opened = await client.post(f"{REPORTS}/{report['id']}/decision",
                                   json={"case_opened": False, "reason": "线索不足"}, headers=regulator)
    withdraw_a_report = await client.post(f"{CONSUMER}/{report['id']}/withdraw", headers=auth)

    assert accept_a_report.status_code == decide_a_complaint.status_code == withdraw_a_report.status_code == 404
    assert not_opened.json()["status"] == "not_opened"


async def test_the_verification_clock_is_extended_once_with_approval(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    region = area.first
    _, auth = consumer()
    report = await file_case(client, auth, region, kind="report")
    regulator = bearer(tokens.regulator(region=region))
    due = report["deadlines"][0]["due_date"]

    extended = await client.post(f"{REPORTS}/{report['id']}/extension",
                                 json={"approved_by": "局长 张三", "reason": "需调取外地证据"}, headers=regulator)
    twice = await client.post(f"{REPORTS}/{report['id']}/extension",
                              json={"approved_by": "局长 张三", "reason": "再次"}, headers=regulator)

    assert extended.status_code == 200, extended.text
    [clock] = extended.json()["deadlines"]
    assert clock["state"] == "extended"
    assert clock["due_date"] == add_working_days(datetime.fromisoformat(due).date(), 15).isoformat()
    assert "局长 张三" in extended.json()["timeline"][-1]["note"]
    assert twice.status_code == 409


@pytest.mark.parametrize("body", [{"case_opened": "yes", "reason": "x"}, {"case_opened": True},
                                  {"approved_by": "x", "reason": "y"}])
async def test_a_decision_needs_a_boolean_and_a_reason(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area, body: dict[str, Any],
) -> None:
    region = area.first
    _, auth = consumer()
    report = await file_case(client, auth, region, kind="report")

    response = await client.post(f"{REPORTS}/{report['id']}/decision", json=body,
                                 headers=bearer(tokens.regulator(region=region)))

    assert response.status_code == 422


async def test_another_regions_regulator_gets_404_on_a_report(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    report = await file_case(client, auth, area.first, kind="report")

    response = await client.post(f"{REPORTS}/{report['id']}/decision", json={"case_opened": True, "reason": "x"},
                                 headers=bearer(tokens.regulator(region=area.second)))

    assert response.status_code == 404


async def test_a_report_clock_breach_names_no_enterprise(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant_id = await enrolled_merchant(area.first)
    _, auth = consumer()
    report = await file_case(client, auth, area.first, kind="report", respondent={"merchant_id": str(merchant_id)})
    due = date.fromisoformat(report["deadlines"][0]["due_date"])

    await sweep_breaches(sessionmaker, now=end_of_day(due) + timedelta(seconds=1),
                         publisher=Publisher(outbox=Outbox(outbox, "complaints"), source="complaints",
                                             cipher=PiiCipher(PII_KEY)))

    [breach] = [payload for event_type, payload in await outbox_payloads(engine, report["id"])
                if event_type.endswith("deadline_breached.v1")]
    assert (breach["kind"], breach["merchant_id"]) == ("report_verification", None)
    assert report["respondent"]["merchant_id"] == str(merchant_id)
