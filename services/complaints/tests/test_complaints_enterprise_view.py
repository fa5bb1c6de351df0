"""What the enterprise needs to answer (issue 13): the routed event carries the purchase, the classification and the
evidence the consumer shared; only that enterprise downloads the shared attachments."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from complaints_support import Area, Consumer, Seed, bearer, complaint_body, file_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from test_complaints_evidence import JPEG, PDF, upload

from servicekit.testing.plugin import Tokens

PATH = "/v1/consumer/complaints"


async def routed_of(engine: AsyncEngine, complaint_id: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        payload: dict[str, Any] = (await connection.execute(text(
            "SELECT payload FROM outbox WHERE aggregate_id = :id AND event_type = 'complaints.complaint.routed.v1'"),
            {"id": complaint_id})).scalar_one()
    return payload


async def test_the_routed_complaint_carries_the_purchase_and_only_the_shared_evidence(
    client: httpx.AsyncClient, consumer: Consumer, enrolled_merchant: Seed, area: Area, engine: AsyncEngine,
    tokens: Tokens,
) -> None:
    merchant_id = await enrolled_merchant(area.first)
    other_merchant = await enrolled_merchant(area.first)
    _, auth = consumer()
    receipt = (await upload(client, auth, JPEG, "小票.jpg")).json()
    id_card = (await upload(client, auth, PDF, "身份证.pdf")).json()

    response = await client.post(PATH, headers=auth, json=complaint_body(
        respondent={"merchant_id": str(merchant_id)}, evidence_ids=[receipt["id"], id_card["id"]],
        shared_evidence_ids=[receipt["id"]]))
    assert response.status_code == 201, response.text
    filed = response.json()
    assert {item["id"]: item["shared_with_merchant"] for item in filed["evidence"]} == {
        receipt["id"]: True, id_card["id"]: False}

    routed = await routed_of(engine, filed["id"])
    assert (routed["order_no"], routed["purchase_date"], routed["purchase_amount_fen"]) == (
        "JD2026112000123", "2026-11-20", 29900)
    assert (routed["sector"], routed["category"], routed["issue_type"]) == (
        "online_shopping", "food.local_specialty", "other")
    # The consumer's own file name stays in complaints, encrypted: the event names the file by its id.
    assert routed["evidence"] == [{**{key: receipt[key] for key in ("id", "media_type", "size_bytes", "sha256")},
                                   "filename": f"{receipt['id']}.jpg"}]

    def download(evidence_id: str) -> str:
        return f"/v1/merchant/complaints/{filed['id']}/evidence/{evidence_id}"

    enterprise = bearer(tokens.merchant(merchant_id))
    got = await client.get(download(receipt["id"]), headers=enterprise)
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, JPEG, "image/jpeg")
    assert (await client.get(download(id_card["id"]), headers=enterprise)).status_code == 404, "not shared"
    assert (await client.get(download(receipt["id"]), headers=bearer(tokens.merchant(other_merchant)))
            ).status_code == 404, "another enterprise"
    assert (await client.get(download(str(uuid.uuid4())), headers=enterprise)).status_code == 404
    assert (await client.get(download(receipt["id"]), headers=auth)).status_code == 403, "a consumer token"
    assert (await client.get(download(receipt["id"]))).status_code == 401
    assert (await client.get(f"/v1/merchant/complaints/{filed['id']}/evidence/nope", headers=enterprise)
            ).status_code == 422


async def test_only_attached_evidence_can_be_shared(client: httpx.AsyncClient, consumer: Consumer,
                                                   area: Area) -> None:
    _, auth = consumer()
    receipt = (await upload(client, auth, JPEG, "小票.jpg")).json()
    response = await client.post(PATH, headers=auth, json=complaint_body(
        evidence_ids=[], shared_evidence_ids=[receipt["id"]]))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "shared_evidence_ids" in response.text
    # Sharing nothing keeps every attachment for the regulator.
    filed = await file_case(client, auth, area.first, evidence_ids=[receipt["id"]])
    assert [item["shared_with_merchant"] for item in filed["evidence"]] == [False]
