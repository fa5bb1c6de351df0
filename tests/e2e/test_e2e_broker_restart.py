"""The embedded broker keeps everything in memory: after it dies the stack restarts around it and loses nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from odr_runner.stack import Stack

pytestmark = pytest.mark.e2e


async def merchant_case_complaint_ids(gateway: httpx.AsyncClient, token: str) -> list[str]:
    response = await gateway.get("/v1/merchant/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return [item["complaint_id"] for item in response.json()["items"]]


async def file_and_wait_for_case(
    gateway: httpx.AsyncClient, consumer_token: str, merchant_token: str, body: dict[str, Any]
) -> str:
    """File a complaint and wait (up to 10 s) until the enterprise lists its case."""
    headers = {"Authorization": f"Bearer {consumer_token}", "Idempotency-Key": str(uuid.uuid4())}
    filed = await gateway.post("/v1/consumer/complaints", json=body, headers=headers)
    assert filed.status_code == 201, filed.text
    complaint_id = str(filed.json()["id"])
    deadline = time.monotonic() + 10
    while complaint_id not in await merchant_case_complaint_ids(gateway, merchant_token):
        assert time.monotonic() < deadline, "the enterprise did not see the case within 10 s"
        await asyncio.sleep(0.2)
    return complaint_id


async def test_broker_loss_restarts_everything_and_nothing_is_lost_or_doubled(
    e2e_stack: Stack, gateway: httpx.AsyncClient, consumer_token: str, merchant_a_token: str,
    complaint_body: Callable[..., dict[str, Any]],
) -> None:
    before = await file_and_wait_for_case(gateway, consumer_token, merchant_a_token, complaint_body())
    cases_before = await merchant_case_complaint_ids(gateway, merchant_a_token)
    assert e2e_stack.broker is not None
    e2e_stack.broker.process.kill()
    e2e_stack.broker.process.wait()
    assert [exited.name for exited in e2e_stack.unexpected_exits()] == ["tansu"]

    await e2e_stack.recover_from_broker_loss()

    after = await file_and_wait_for_case(gateway, consumer_token, merchant_a_token, complaint_body(facts="第二次投诉"))
    cases_after = await merchant_case_complaint_ids(gateway, merchant_a_token)
    assert before in cases_after
    assert sorted(cases_after) == sorted([*cases_before, after]), "re-published events opened cases twice"
    assert e2e_stack.unexpected_exits() == []
