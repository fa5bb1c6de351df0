"""A consumer follows a complaint live through the gateway: served from the complaints service's case-change feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

EVENT_TIMEOUT = 15.0
STRANGER_PHONE = "13800009999"


async def next_complaint_event(lines: Any) -> tuple[str, dict[str, Any]]:
    """The next `complaint` event of the stream as (id, detail); ping comments are skipped."""
    fields: dict[str, str] = {}
    while True:
        line = await asyncio.wait_for(anext(lines), EVENT_TIMEOUT)
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
            continue
        if fields.get("event") == "complaint":
            return fields["id"], json.loads(fields["data"])
        fields = {}


async def test_a_followed_complaint_arrives_at_once_and_again_when_it_changes(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: Callable[..., dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {consumer_token}"}
    filed = await gateway.post("/v1/consumer/complaints", json=complaint_body(), headers=headers)
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]

    async with gateway.stream("GET", f"/v1/consumer/complaints/{case_id}/stream",
                              headers={**headers, "Accept": "text/event-stream"}, timeout=None) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        version, detail = await next_complaint_event(lines)
        assert detail["id"] == case_id
        assert detail["status"] == filed.json()["status"]

        withdrawn = await gateway.post(f"/v1/consumer/complaints/{case_id}/withdraw", headers=headers)
        assert withdrawn.status_code == 200, withdrawn.text
        while detail["status"] != "withdrawn":  # the case may change more than once (routing to mediation, ...)
            later, detail = await next_complaint_event(lines)
            assert int(later) > int(version)
            version = later

    # The case may move on after the withdrawal (the negotiation closing); the stream never runs ahead of it.
    current = await gateway.get(f"/v1/consumer/complaints/{case_id}", headers=headers)
    assert int(current.headers["etag"].removeprefix("W/").strip('"')) >= int(version)


async def test_no_one_follows_another_consumers_complaint(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: Callable[..., dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {consumer_token}"}
    filed = await gateway.post("/v1/consumer/complaints", json=complaint_body(), headers=headers)
    assert filed.status_code == 201, filed.text
    stranger = await _sign_in(gateway, STRANGER_PHONE)

    response = await gateway.get(f"/v1/consumer/complaints/{filed.json()['id']}/stream",
                                 headers={"Authorization": f"Bearer {stranger}", "Accept": "text/event-stream"})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def _sign_in(gateway: httpx.AsyncClient, phone: str) -> str:
    otp = await gateway.post("/auth/otp", json={"phone": phone})
    assert otp.status_code == 202, otp.text
    token = await gateway.post("/auth/token", data={"grant_type": "otp", "phone": phone,
                                                    "code": otp.json()["dev_code"]})
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])
