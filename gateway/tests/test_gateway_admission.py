"""The gateway's gate towards each service, over real HTTP: beyond the requests a service is given at once and the
few that may wait briefly, a request is answered 503 `at-capacity` at once instead of queueing behind the rest;
the other services and the sign-in path are not held up by it."""

import asyncio
import time

import httpx
from gateway_testkit import Upstreams, assert_problem, bearer, gateway_settings, in_process_gateway
from test_gateway_proxy import consumer_token

from servicekit.auth import TokenIssuer

COMPLAINT_ROUTE = "/v1/consumer/complaints/x-1"


async def test_a_full_gate_refuses_at_once_and_lets_through_again_when_a_place_is_free(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer
) -> None:
    settings = gateway_settings(upstreams, signing_key, upstream_admission_limit=2, upstream_admission_queue=1,
                                upstream_admission_wait_seconds=0.3, upstream_admission_retry_after_seconds=3,
                                upstream_total_timeout=5.0)
    headers = bearer(consumer_token(gateway_issuer))
    slow = {**headers, "x-test-delay": "1.5"}
    async with in_process_gateway(settings) as gateway:
        held = [asyncio.create_task(gateway.get(COMPLAINT_ROUTE, headers=slow)) for _ in range(2)]
        await asyncio.sleep(0.3)

        started = time.monotonic()
        waited = await gateway.get(COMPLAINT_ROUTE, headers=headers)
        waited_for = time.monotonic() - started
        body = assert_problem(waited, 503, "at-capacity")
        assert body["service"] == "complaints"
        assert waited.headers["retry-after"] == "3"
        assert 0.25 <= waited_for < 1.0, f"the request may wait its 0.3 s for a place, then is refused: {waited_for}"

        queued = asyncio.create_task(gateway.get(COMPLAINT_ROUTE, headers=headers))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        beyond_queue = await gateway.get(COMPLAINT_ROUTE, headers=headers)
        assert_problem(beyond_queue, 503, "at-capacity")
        assert time.monotonic() - started < 0.2, "with the line full a request is refused without waiting"
        assert_problem(await queued, 503, "at-capacity")

        other_service = await gateway.get("/v1/consumer/cases/c-1", headers=headers)
        assert other_service.status_code == 200, "each service has its own gate"
        signed_in = await gateway.post("/auth/otp", json={"phone": "13800138000"})
        assert signed_in.status_code == 202, "sign-in codes do not queue behind the filings"

        assert [answer.status_code for answer in await asyncio.gather(*held)] == [200, 200]
        after = await gateway.get(COMPLAINT_ROUTE, headers=headers)
        assert after.status_code == 200, after.text


async def test_a_request_waiting_in_line_is_let_through_when_a_place_frees_within_its_wait(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer
) -> None:
    settings = gateway_settings(upstreams, signing_key, upstream_admission_limit=1, upstream_admission_queue=4,
                                upstream_admission_wait_seconds=2.0, upstream_total_timeout=5.0)
    headers = bearer(consumer_token(gateway_issuer))
    async with in_process_gateway(settings) as gateway:
        held = asyncio.create_task(gateway.get(COMPLAINT_ROUTE, headers={**headers, "x-test-delay": "0.5"}))
        await asyncio.sleep(0.1)
        waiting: list[asyncio.Task[httpx.Response]] = [
            asyncio.create_task(gateway.get(COMPLAINT_ROUTE, headers=headers)) for _ in range(3)]
        answers = await asyncio.gather(held, *waiting)
        assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
