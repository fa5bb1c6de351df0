"""Erasure of a consumer's personal data across the platform (issue 14, item 5): a complaint negotiated to a
settlement (evidence, a message with an attachment, a reveal by staff) is exported in one document through the
gateway, refused erasure while within its retention period, and erased once the period has passed; every figure
of the regulator's statistics stays equal, no personal value is left in any table of any database, and the hash
chain of outcomes still verifies."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from test_e2e_personal_data_scan import PNG, _unique_person, encodings, hits, ok

from odr_runner.stack import SERVICES, Stack
from servicekit.calendar import local_date
from servicekit.db import utcnow

pytestmark = pytest.mark.e2e

GROUPINGS = (None, "kind", "sector", "channel", "issue_type", "merchant", "month")


async def _figures(gateway: httpx.AsyncClient, regulator: dict[str, str]) -> list[dict[str, Any]]:
    figures = []
    for group_by in GROUPINGS:
        params = {"region": "632801", "from": "2000-01-01"} | ({"group_by": group_by} if group_by else {})
        figures.append(ok(await gateway.get("/v1/regulator/stats", params=params, headers=regulator)))
    return figures


async def _found_in_databases(dsn: Callable[[str], str], needles: dict[str, set[str]]) -> list[str]:
    found: list[str] = []
    for service in SERVICES:
        connection = await asyncpg.connect(dsn(service))
        try:
            tables = [row["tablename"] for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for table in tables:
                for row in await connection.fetch(f'SELECT t::text AS row FROM "{table}" t'):
                    found += [f"{service}.{table}: {field}" for field in hits(row["row"], needles)]
        finally:
            await connection.close()
    return sorted(set(found))


async def test_erasure_keeps_every_figure_of_the_statistics_and_leaves_no_personal_data_in_any_database(
    e2e_stack: Stack, gateway: httpx.AsyncClient, demo: dict[str, Any], merchant_a_token: str,
    regulator_token: str, database_dsn: Callable[[str], str], eventually: Callable[..., Any],
) -> None:
    person = _unique_person()
    tag = uuid.uuid4().hex[:10]
    typed = {"facts": f"牦牛肉干发霉变质{tag}", "order_no": f"JD{tag}", "message": f"我住在盐湖路{tag}号",
             "filename": f"{person['name']}发票{tag}.png", "rating": f"处理得不错{tag}"}
    otp = ok(await gateway.post("/auth/otp", json={"phone": person["phone"]}), 202)
    consumer = {"Authorization": "Bearer " + ok(await gateway.post("/auth/token", data={
        "grant_type": "otp", "phone": person["phone"], "code": otp["dev_code"]}))["access_token"]}
    enterprise = {"Authorization": f"Bearer {merchant_a_token}"}
    regulator = {"Authorization": f"Bearer {regulator_token}"}

    evidence = ok(await gateway.post("/v1/consumer/evidence", params={"filename": typed["filename"]}, content=PNG,
                                     headers={**consumer, "Content-Type": "application/octet-stream"}), 201)
    purchased = (local_date(utcnow()) - timedelta(days=3)).isoformat()
    filed = ok(await gateway.post("/v1/consumer/complaints", headers=consumer, json={
        "kind": "complaint", "green_channel": True, "complainant": person,
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
        "request": {"type": "refund", "amount_fen": 19900}, "facts": typed["facts"],
        "purchase": {"date": purchased, "amount_fen": 19900, "order_no": typed["order_no"]},
        "sector": "online_shopping", "channel": "app", "evidence_ids": [evidence["id"]],
        "shared_evidence_ids": [evidence["id"]]}), 201)

    async def case_id() -> str | None:
        detail = ok(await gateway.get(f"/v1/consumer/complaints/{filed['id']}", headers=consumer))
        return detail["mediation_case_id"]

    mediation_case = await eventually(case_id, what="the negotiation case of the complaint")
    attachment = ok(await gateway.post(f"/v1/consumer/cases/{mediation_case}/attachments", headers=consumer,
                                       files={"file": (typed["filename"], PNG, "image/png")}), 201)
    ok(await gateway.post(f"/v1/consumer/cases/{mediation_case}/messages", headers=consumer,
                          json={"text": typed["message"], "attachment_ids": [attachment["id"]]}), 201)
    offer = ok(await gateway.post(f"/v1/merchant/cases/{mediation_case}/offers", headers=enterprise,
                                  json={"type": "refund", "amount_fen": 19900, "note": "同意退款"}), 201)
    ok(await gateway.post(f"/v1/consumer/cases/{mediation_case}/offers/{offer['id']}/accept", headers=consumer))

    async def closed() -> dict[str, Any] | None:
        complaint = ok(await gateway.get(f"/v1/consumer/complaints/{filed['id']}", headers=consumer))
        return complaint if complaint["status"] == "closed_settled" else None

    await eventually(closed, what="the complaint closed by the settlement")
    ok(await gateway.post(f"/v1/consumer/complaints/{filed['id']}/rating", headers=consumer,
                          json={"score": 5, "text": typed["rating"]}))
    ok(await gateway.post(f"/v1/regulator/complaints/{filed['id']}/reveal", headers=regulator,
                          json={"purpose": "contact_party", "note": "回访"}))

    exported = await gateway.get("/v1/consumer/personal-data", headers=consumer)
    document = ok(exported)
    [complaint] = document["complaints"]["complaints"]
    assert (complaint["complainant"]["name"], complaint["facts"]) == (person["name"], typed["facts"])
    assert [entry["role"] for entry in document["complaints"]["access_log"]] == ["regulator"]
    [case] = document["mediation"]["cases"]
    assert [message["text"] for message in case["messages"]] == [typed["message"]]
    assert case["agreement"] is not None

    refused = await gateway.post(f"/v1/consumer/complaints/{filed['id']}/personal-data/erasure", headers=consumer)
    assert (refused.status_code, refused.json()["reason"]) == (409, "in_retention"), refused.text

    # The retention period passes.
    connection = await asyncpg.connect(database_dsn("complaints"))
    try:
        await connection.execute("UPDATE complaint SET closed_at = closed_at - interval '4000 days' WHERE id = $1",
                                 uuid.UUID(filed["id"]))
    finally:
        await connection.close()
    assert not await e2e_stack.wait_settled()
    needles = {field: encodings(value) for field, value in {**person, **typed}.items()}
    # The controls: before erasure the scan finds the order number kept in clear (the facts rest only sealed), and the
    # export opens the sealed values, so finding nothing after is not blindness.
    assert {found.rsplit(": ", 1)[1] for found in await _found_in_databases(database_dsn, needles)} >= {"order_no"}
    exported = json.dumps(ok(await gateway.get("/v1/consumer/personal-data", headers=consumer)), ensure_ascii=False)
    assert [value for value in (person["name"], typed["facts"], typed["message"]) if value not in exported] == []
    before = await _figures(gateway, regulator)

    erased = ok(await gateway.post(f"/v1/consumer/complaints/{filed['id']}/personal-data/erasure", headers=consumer))
    assert erased["case_no"] == filed["case_no"]
    assert not await e2e_stack.wait_settled()

    assert await _figures(gateway, regulator) == before
    assert await _found_in_databases(database_dsn, needles) == []
    after = json.dumps(ok(await gateway.get("/v1/consumer/personal-data", headers=consumer)), ensure_ascii=False)
    assert [value for value in (person["name"], typed["facts"], typed["message"]) if value in after] == []
    verified = ok(await gateway.get("/v1/regulator/audit/verify", params={"region": "632801"}, headers=regulator))
    assert verified["ok"] is True, verified
