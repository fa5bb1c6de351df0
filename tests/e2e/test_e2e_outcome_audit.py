"""Auditing outcomes through the gateway (issue 15): a settlement below a tenth of the request raises
low_settlement, a new complaint against the same enterprise right after raises refiled_after_close on the new case,
the reviewer's outcome lands on the audit chain, the enterprise's scorecard and the period report (both by event), a
station's settlement on the spot reaches the outcome records as the station's (by event), and the merged OpenAPI
answers every audit error as a problem."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from servicekit.calendar import local_date
from servicekit.db import utcnow

pytestmark = pytest.mark.e2e

ComplaintBody = Callable[..., dict[str, Any]]
Eventually = Callable[..., Any]

REGION = "632801"
AUDIT_PATHS = ("/v1/regulator/audit/outcomes", "/v1/regulator/audit/outcomes/{case_id}",
               "/v1/regulator/audit/signals", "/v1/regulator/audit/thresholds", "/v1/regulator/audit/queue",
               "/v1/regulator/audit/queue/{review_id}", "/v1/regulator/audit/queue/{review_id}/outcome",
               "/v1/regulator/audit/figures")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url.path}: {response.status_code} {response.text[:500]}"
    body: dict[str, Any] = response.json()
    return body


async def file_against_b(gateway: httpx.AsyncClient, consumer: dict[str, str], complaint_body: ComplaintBody,
                         demo: dict[str, Any], eventually: Eventually) -> tuple[str, str]:
    body = complaint_body()
    body["respondent"] = {"merchant_id": demo["merchants"][1]["merchant_id"]}
    filed = ok(await gateway.post("/v1/consumer/complaints", json=body,
                                  headers={**consumer, "Idempotency-Key": str(uuid.uuid4())}), 201)

    async def case_id() -> str | None:
        detail = ok(await gateway.get(f"/v1/consumer/complaints/{filed['id']}", headers=consumer))
        return detail["mediation_case_id"]  # type: ignore[no-any-return]

    return filed["id"], await eventually(case_id, what="the negotiation case of the complaint")


async def test_low_settlement_and_refiling_are_signalled_reviewed_and_chained(
    gateway: httpx.AsyncClient, consumer_token: str, merchant_b_token: str, regulator_token: str,
    complaint_body: ComplaintBody, demo: dict[str, Any], eventually: Eventually,
) -> None:
    consumer, enterprise, regulator = auth(consumer_token), auth(merchant_b_token), auth(regulator_token)
    card_before = ok(await gateway.get("/v1/merchant/scorecard", headers=enterprise))
    today = local_date(utcnow()).isoformat()
    period = {"region": REGION, "from": today, "to": today}
    report_before = ok(await gateway.get("/v1/regulator/reports/summary", params=period, headers=regulator))
    complaint_id, case_id = await file_against_b(gateway, consumer, complaint_body, demo, eventually)
    offer = ok(await gateway.post(f"/v1/merchant/cases/{case_id}/offers", headers=enterprise,
                                  json={"type": "refund", "amount_fen": 500}), 201)
    ok(await gateway.post(f"/v1/consumer/cases/{case_id}/offers/{offer['id']}/accept", headers=consumer))

    signals = ok(await gateway.get("/v1/regulator/audit/signals", headers=regulator,
                                   params={"region": REGION, "signal": "low_settlement"}))
    mine = [item for item in signals["items"] if item["complaint_id"] == complaint_id]
    assert len(mine) == 1, signals
    assert mine[0]["case_no"].startswith("TS-")
    assert mine[0]["signal"] == "low_settlement"
    assert (mine[0]["detail"]["requested_fen"], mine[0]["detail"]["agreed_fen"]) == (29900, 500)
    assert {"case_no", "complaint_id", "signal", "detail", "raised_at"} <= set(mine[0])
    assert "next_cursor" in signals

    refiled_complaint, refiled_case = await file_against_b(gateway, consumer, complaint_body, demo, eventually)
    refiled = ok(await gateway.get("/v1/regulator/audit/signals", headers=regulator,
                                   params={"region": REGION, "signal": "refiled_after_close"}))
    on_new = [item for item in refiled["items"] if item["complaint_id"] == refiled_complaint]
    assert len(on_new) == 1, refiled
    assert on_new[0]["detail"]["earlier_case_id"] == case_id

    queue = ok(await gateway.get("/v1/regulator/audit/queue", params={"region": REGION, "state": "open"},
                                 headers=regulator))
    item = next(item for item in queue["items"] if item["case_id"] == case_id)
    reviewed = ok(await gateway.post(f"/v1/regulator/audit/queue/{item['id']}/outcome", headers=regulator,
                                     json={"outcome": "consumer_called_back", "note": "已回访消费者"}))
    assert reviewed["chain_seq"] is not None
    again = await gateway.post(f"/v1/regulator/audit/queue/{item['id']}/outcome", headers=regulator,
                               json={"outcome": "confirmed"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    async def scorecard_counts_the_finding() -> dict[str, Any] | None:
        card = ok(await gateway.get("/v1/merchant/scorecard", headers=enterprise))
        done = (card["cases_reviewed"] == card_before["cases_reviewed"] + 1
                and card["review_findings"] == card_before["review_findings"] + 1)
        return card if done else None

    await eventually(scorecard_counts_the_finding, what="the enterprise's scorecard counting the review finding")

    async def report_counts_the_review() -> dict[str, Any] | None:
        audit: dict[str, Any] = ok(await gateway.get("/v1/regulator/reports/summary", params=period,
                                                     headers=regulator))["audit"]
        before = report_before["audit"]
        done = (audit["cases_reviewed"] == before["cases_reviewed"] + 1
                and audit["findings"] == before["findings"] + 1
                and audit["consumer_called_back"] == before["consumer_called_back"] + 1)
        return audit if done else None

    await eventually(report_counts_the_review, what="the period report counting the review (complaints, by event)")
    verified = ok(await gateway.get("/v1/regulator/audit/verify", params={"region": REGION}, headers=regulator))
    assert verified["ok"] is True, verified
    figures = ok(await gateway.get("/v1/regulator/audit/figures", headers=regulator,
                                   params={"region": REGION, "from": today, "to": today}))
    assert figures["outcomes"]["consumer_called_back"] >= 1
    record = ok(await gateway.get(f"/v1/regulator/audit/outcomes/{case_id}", headers=regulator))
    assert (record["settled_by"], record["agreed"]["amount_fen"]) == ("enterprise_negotiation", 500)
    assert refiled_case != case_id
    assert (await gateway.get("/v1/regulator/audit/signals", params={"region": REGION},
                              headers=consumer)).status_code in (401, 403)


async def station_staff(gateway: httpx.AsyncClient, regulator: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A new station of Golmud and a staff member of it, signed in: (station id, their headers)."""
    station = ok(await gateway.post("/v1/regulator/stations", headers=regulator, json={
        "name": "审计测试服务站", "host_name": "格尔木昆仑市场", "region_code": REGION,
        "address": "青海省格尔木市昆仑路2号", "phone": "0979-8410002"}), 201)
    username, password = f"audit-station-{secrets.token_hex(3)}", f"Kunlun-station-{secrets.token_hex(4)}"
    ok(await gateway.post(f"/v1/regulator/stations/{station['id']}/staff", headers=regulator, json={
        "username": username, "password": password, "display_name": "服务站 审计测试"}), 201)
    signed_in = ok(await gateway.post("/auth/token", data={"grant_type": "password", "username": username,
                                                           "password": password}))
    return station["id"], auth(signed_in["access_token"])


async def test_a_station_s_settlement_on_the_spot_is_an_outcome_record_of_the_station(
    gateway: httpx.AsyncClient, regulator_token: str, complaint_body: ComplaintBody, demo: dict[str, Any],
    eventually: Eventually,
) -> None:
    regulator = auth(regulator_token)
    station_id, staff = await station_staff(gateway, regulator)
    body = complaint_body() | {
        "green_channel": False, "settled_on_spot": {"amount_fen": 8800, "note": "商家当场退款88元"},
        "identity": {"document_type": "resident_id_card", "document_number": "632801199003071235", "checked": True}}
    filed = ok(await gateway.post("/v1/regulator/station-complaints", json=body, headers=staff), 201)
    assert filed["status"] == "closed_settled"
    merchant_id = demo["merchants"][0]["merchant_id"]

    async def the_record() -> dict[str, Any] | None:
        listed = ok(await gateway.get("/v1/regulator/audit/outcomes", headers=regulator,
                                      params={"region": REGION, "merchant_id": merchant_id, "limit": 200}))
        return next((item for item in listed["items"] if item["complaint_id"] == filed["id"]), None)

    record = await eventually(the_record, what="the station's settlement among the outcome records (mediation)")
    assert (record["settled_by"], record["stage"], record["case_id"], record["mediator_id"]) == (
        "station", "station", None, station_id)
    assert (record["requested"], record["agreed"]) == ({"type": "refund", "amount_fen": 29900},
                                                      {"type": None, "amount_fen": 8800})


async def test_the_merged_openapi_declares_every_audit_error_as_a_problem(gateway: httpx.AsyncClient) -> None:
    paths = ok(await gateway.get("/openapi.json"))["paths"]
    for path in AUDIT_PATHS:
        assert path in paths, path
        for method, operation in paths[path].items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            assert operation["tags"] == ["regulator"]
            errors = {status: response for status, response in operation["responses"].items()
                      if status.startswith(("4", "5"))}
            assert {"401", "403", "422"} <= set(errors), (method, path)
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
