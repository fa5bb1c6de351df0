"""A service that is down costs its routes a quick 503 problem at the gateway, never a hang."""

from __future__ import annotations

import time

import httpx
import pytest

from odr_runner.stack import Stack

pytestmark = pytest.mark.e2e


async def test_mediation_down_gives_503_within_3_seconds_and_recovers(
    e2e_stack: Stack, gateway: httpx.AsyncClient, merchant_a_token: str
) -> None:
    headers = {"Authorization": f"Bearer {merchant_a_token}"}
    assert (await gateway.get("/v1/merchant/cases", headers=headers)).status_code == 200
    e2e_stack.stop_process("mediation")
    try:
        started = time.monotonic()
        response = await gateway.get("/v1/merchant/cases", headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert elapsed < 3, f"the gateway took {elapsed:.1f}s to give up on a stopped service"
        other_service = await gateway.get("/v1/merchant/scorecard", headers=headers)
        assert other_service.status_code != 503, "a route of a running service failed too"
    finally:
        e2e_stack.start_process("mediation")
        await e2e_stack.wait_ready(["mediation"])
    assert (await gateway.get("/v1/merchant/cases", headers=headers)).status_code == 200
