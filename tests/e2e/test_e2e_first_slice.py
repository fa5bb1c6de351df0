"""The first slice through the gateway: a consumer files a complaint, the enterprise it names sees the case."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.e2e

TableCounts = Callable[[], Awaitable[dict[str, int]]]
ComplaintBody = Callable[..., dict[str, Any]]

SHANGHAI = ZoneInfo("Asia/Shanghai")
CASE_NO = re.compile(r"TS-632801-(\d{8})-\d{6}")


def auth(token: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


class Filed:
    def __init__(self, key: str, body: dict[str, Any], response: httpx.Response, local_dates: set[str]) -> None:
        self.key = key
        self.body = body
        self.response = response
        self.local_dates = local_dates

    @property
    def id(self) -> str:
        return str(self.response.json()["id"])


@pytest.fixture(scope="module")
async def filed(gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody) -> Filed:
    """One complaint against demo enterprise A, filed with an Idempotency-Key."""
    key = str(uuid.uuid4())
    body = complaint_body()
    before = datetime.now(SHANGHAI).strftime("%Y%m%d")
    response = await gateway.post("/v1/consumer/complaints", json=body, headers=auth(consumer_token, key))
    after = datetime.now(SHANGHAI).strftime("%Y%m%d")
    return Filed(key, body, response, {before, after})


async def test_filing_answers_201_with_id_case_number_and_status(filed: Filed) -> None:
    assert filed.response.status_code == 201, filed.response.text
    created = filed.response.json()
    uuid.UUID(created["id"])
    match = CASE_NO.fullmatch(created["case_no"])
    assert match, created["case_no"]
    assert match.group(1) in filed.local_dates
    assert created["status"] == "with_merchant"


async def test_same_key_and_body_replays_the_first_response(
    filed: Filed, gateway: httpx.AsyncClient, consumer_token: str
) -> None:
    again = await gateway.post("/v1/consumer/complaints", json=filed.body, headers=auth(consumer_token, filed.key))
    assert again.status_code == filed.response.status_code == 201
    assert again.json() == filed.response.json()


async def test_same_key_with_another_body_is_refused_and_writes_nothing(
    filed: Filed, gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody,
    complaints_row_counts: TableCounts,
) -> None:
    before = await complaints_row_counts()
    other = complaint_body(facts="另一件事：快递丢失。")
    refused = await gateway.post("/v1/consumer/complaints", json=other, headers=auth(consumer_token, filed.key))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert await complaints_row_counts() == before


async def test_consumer_sees_status_and_timeline(filed: Filed, gateway: httpx.AsyncClient, consumer_token: str) -> None:
    response = await gateway.get(f"/v1/consumer/complaints/{filed.id}", headers=auth(consumer_token))
    assert response.status_code == 200, response.text
    complaint = response.json()
    assert complaint["id"] == filed.id
    assert complaint["case_no"] == filed.response.json()["case_no"]
    assert complaint["status"] == "with_merchant"
    assert complaint["timeline"], "the timeline is empty"
    assert complaint["timeline"][-1]["status"] == "with_merchant"
    assert {"at", "status", "actor_role", "note"} <= set(complaint["timeline"][0])


async def _case_listed_for(gateway: httpx.AsyncClient, token: str, complaint_id: str) -> dict[str, Any] | None:
    response = await gateway.get("/v1/merchant/cases", headers=auth(token))
    assert response.status_code == 200, response.text
    return next((item for item in response.json()["items"] if item["complaint_id"] == complaint_id), None)


@pytest.fixture(scope="module")
async def case_of_a(filed: Filed, gateway: httpx.AsyncClient, merchant_a_token: str) -> dict[str, Any] | None:
    """The negotiation case as enterprise A lists it, once mediation has opened it (polled up to 10 s)."""
    deadline = time.monotonic() + 10
    case = await _case_listed_for(gateway, merchant_a_token, filed.id)
    while case is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        case = await _case_listed_for(gateway, merchant_a_token, filed.id)
    return case


async def test_enterprise_named_in_the_complaint_lists_and_reads_the_case(
    filed: Filed, case_of_a: dict[str, Any] | None, gateway: httpx.AsyncClient, merchant_a_token: str
) -> None:
    assert case_of_a is not None, "enterprise A did not see the case within 10 s"
    assert case_of_a["case_no"] == filed.response.json()["case_no"]
    assert case_of_a["status"] == "negotiating"
    direct = await gateway.get(f"/v1/merchant/cases/{case_of_a['id']}", headers=auth(merchant_a_token))
    assert direct.status_code == 200, direct.text
    assert direct.json()["complaint_id"] == filed.id


async def test_other_enterprise_neither_lists_nor_reads_the_case(
    filed: Filed, case_of_a: dict[str, Any] | None, gateway: httpx.AsyncClient, merchant_b_token: str
) -> None:
    assert case_of_a is not None, "enterprise A did not see the case within 10 s"
    assert await _case_listed_for(gateway, merchant_b_token, filed.id) is None
    direct = await gateway.get(f"/v1/merchant/cases/{case_of_a['id']}", headers=auth(merchant_b_token))
    assert direct.status_code == 404, direct.text
    assert direct.headers["content-type"].startswith("application/problem+json")
