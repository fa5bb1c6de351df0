"""A bureau's day through the gateway: consultations asked, answered and turned into a complaint; a 12315 export
imported with refusals and re-imported without duplicates; the period report of the prefecture agreeing with the
statistics. Every region is one of the demo regulators' (Haixi 632800, Golmud 632801, Delingha 632802)."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

SHANGHAI = ZoneInfo("Asia/Shanghai")
TableCounts = Callable[[], Awaitable[dict[str, int]]]

CSV_COLUMNS = ("ticket_no", "received_at", "consumer_name", "consumer_phone", "business_name",
               "business_region_code", "sector", "request_type", "request_amount_fen", "facts", "request")


async def staff_token(gateway: httpx.AsyncClient, demo: dict[str, Any], region: str) -> dict[str, str]:
    [account] = [account for account in demo["regulators"] if account["region"] == region]
    response = await gateway.post("/auth/token", data={"grant_type": "password", "username": account["username"],
                                                       "password": account["password"]})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


async def test_demo_regulators_govern_the_province_the_prefecture_and_its_two_cities(
    gateway: httpx.AsyncClient, demo: dict[str, Any],
) -> None:
    assert demo["regulator"]["region"] == "632801"
    assert sorted(account["region"] for account in demo["regulators"]) == ["630000", "632800", "632801", "632802"]
    assert demo["regulator"] in demo["regulators"]
    for account in demo["regulators"]:
        headers = await staff_token(gateway, demo, account["region"])
        stats = await gateway.get("/v1/regulator/stats", headers=headers)
        assert stats.status_code == 200, stats.text
        assert stats.json()["region"] == account["region"]


async def test_a_consultation_is_asked_answered_and_turned_into_a_complaint(
    gateway: httpx.AsyncClient, demo: dict[str, Any], consumer_token: str, regulator_token: str,
) -> None:
    consumer = {"Authorization": f"Bearer {consumer_token}"}
    golmud = {"Authorization": f"Bearer {regulator_token}"}
    delingha = await staff_token(gateway, demo, "632802")
    haixi = await staff_token(gateway, demo, "632800")
    body = {"question": "网购的枸杞与宣传不符，商家不退货怎么办？", "sector": "online_shopping",
            "region_code": "632801"}
    key = {"Idempotency-Key": uuid.uuid4().hex}

    asked = await gateway.post("/v1/consumer/consultations", json=body, headers={**consumer, **key})
    retried = await gateway.post("/v1/consumer/consultations", json=body, headers={**consumer, **key})

    assert asked.status_code == 201, asked.text
    consultation = asked.json()
    assert consultation["case_no"].startswith(f"ZX-632801-{today().replace('-', '')}-")
    assert consultation["status"] == "open"
    assert retried.json() == consultation
    open_in_haixi = (await gateway.get("/v1/regulator/consultations", headers=haixi)).json()["items"]
    assert consultation["id"] in [item["id"] for item in open_in_haixi]
    elsewhere = await gateway.get(f"/v1/regulator/consultations/{consultation['id']}", headers=delingha)
    assert elsewhere.status_code == 404

    answered = await gateway.post(f"/v1/regulator/consultations/{consultation['id']}/answer",
                                  json={"answer": "可先与商家协商；协商不成可以投诉，我局依法处理。"}, headers=golmud)

    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    mine = (await gateway.get(f"/v1/consumer/consultations/{consultation['id']}", headers=consumer)).json()
    assert mine["answer"].startswith("可先与商家协商")

    filed = await gateway.post(f"/v1/consumer/consultations/{consultation['id']}/complaint", headers=consumer, json={
        "complainant": {"name": "王芳", "phone": demo["consumer_phone"], "address": "青海省格尔木市昆仑中路12号"},
        "respondent": {"merchant_id": demo["merchants"][1]["merchant_id"]}, "green_channel": True,
        "request": {"type": "refund", "amount_fen": 12800}})

    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert complaint["facts"] == body["question"]
    assert complaint["status"] == "with_merchant"
    linked = (await gateway.get(f"/v1/consumer/consultations/{consultation['id']}", headers=consumer)).json()
    assert linked["complaint_id"] == complaint["id"]
    again = await gateway.post(f"/v1/consumer/consultations/{consultation['id']}/complaint", headers=consumer,
                               json={"complainant": {"name": "王芳", "phone": demo["consumer_phone"]},
                                     "respondent": {"merchant_id": demo["merchants"][1]["merchant_id"]},
                                     "request": {"type": "refund"}})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


def export(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def ticket(number: str, region: str, **changes: Any) -> dict[str, Any]:
    received = (datetime.now(SHANGHAI) - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")
    return {"ticket_no": number, "received_at": received, "consumer_name": "马丽",
            "consumer_phone": f"136{random.randrange(10**8):08d}", "business_name": "昆仑路枸杞店",
            "business_region_code": region, "sector": "food", "request_type": "refund",
            "request_amount_fen": "6800", "facts": "买到的枸杞发霉。", "request": "退款", **changes}


async def test_a_12315_export_is_imported_with_refusals_and_reimported_without_duplicates(
    gateway: httpx.AsyncClient, regulator_token: str, complaints_row_counts: TableCounts,
) -> None:
    golmud = {"Authorization": f"Bearer {regulator_token}", "Content-Type": "text/csv"}
    batch = f"E2E{random.randrange(10**9):09d}"
    rows = [ticket(f"{batch}-1", "632801"), ticket(f"{batch}-2", "632801", consumer_phone="12345"),
            ticket(f"{batch}-3", "632802"), ticket(f"{batch}-1", "632801"),
            ticket(f"{batch}-4", "632801", sector="")]
    before = await complaints_row_counts()

    first = await gateway.post("/v1/regulator/imports", params={"source": "12315"}, content=export(rows),
                               headers=golmud)
    after_first = await complaints_row_counts()
    second = await gateway.post("/v1/regulator/imports", params={"source": "12315"}, content=export(rows),
                                headers=golmud)
    after_second = await complaints_row_counts()

    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["filed"], report["duplicates"]) == (1, 1)
    assert sorted((refusal["row"], refusal["field"]) for refusal in report["refused"]) == [
        (2, "consumer_phone"), (3, "business_region_code"), (5, "sector")]
    assert "outside the regions you govern" in report["refused"][1]["reason"]
    # One case, whole: its row, its clock; nothing of the refused rows.
    assert after_first["complaint"] - before["complaint"] == 1
    assert after_first["deadline"] - before["deadline"] == 1
    assert (second.json()["filed"], second.json()["duplicates"]) == (0, 2)
    assert after_second["complaint"] == after_first["complaint"]
    case = (await gateway.get(f"/v1/regulator/complaints/{report['cases'][0]['id']}",
                              headers={"Authorization": golmud["Authorization"]})).json()
    assert case["status"] == "pending_acceptance"
    assert case["region_code"] == "632801"
    transferred = (await gateway.get("/v1/regulator/stats", params={"channel": "transfer_12315"},
                                     headers={"Authorization": golmud["Authorization"]})).json()
    assert transferred["received"] >= 1


async def test_the_period_report_of_the_prefecture_agrees_with_the_statistics(
    gateway: httpx.AsyncClient, demo: dict[str, Any], consumer_token: str,
) -> None:
    haixi = await staff_token(gateway, demo, "632800")
    consumer = {"Authorization": f"Bearer {consumer_token}"}
    await gateway.post("/v1/consumer/consultations", headers=consumer, json={
        "question": "德令哈的商场预付卡能退吗？", "sector": "retail", "region_code": "632802"})
    period = {"region": "632800", "from": f"{today()[:4]}-01-01", "to": f"{today()[:4]}-12-31"}

    summary = await gateway.get("/v1/regulator/reports/summary", params=period, headers=haixi)
    stats = (await gateway.get("/v1/regulator/stats", params=period, headers=haixi)).json()
    as_csv = await gateway.get("/v1/regulator/reports/summary", params=period,
                               headers={**haixi, "Accept": "text/csv"})
    golmud_asks_for_haixi = await gateway.get(
        "/v1/regulator/reports/summary", params=period, headers=await staff_token(gateway, demo, "632801"))

    assert summary.status_code == 200, summary.text
    report = summary.json()
    assert (report["region"], report["from"], report["to"]) == ("632800", period["from"], period["to"])
    assert report["complaints"]["received"] == stats["complaints"]
    assert report["complaints"]["recovered_fen"] == stats["recovered_fen"]
    assert report["consultations"]["received"] == stats["consultations"] >= 1
    assert report["reports"]["received"] == stats["reports"]
    assert report["odr_enterprises"]["enrolled"] >= 2
    assert {"by_sector", "by_issue_type", "stations"} <= set(report)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f"complaints,received,投诉受理登记 complaints received,{stats['complaints']}" in as_csv.text
    assert golmud_asks_for_haixi.status_code == 403
