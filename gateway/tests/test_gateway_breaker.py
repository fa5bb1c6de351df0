"""The gateway's circuit breaker over real HTTP: a service that keeps failing is left alone for a while (503 with
Retry-After at once), then one trial finds it back and the circuit closes by itself."""

import asyncio
import time

from gateway_testkit import (
    ServerThread,
    Upstreams,
    assert_problem,
    bearer,
    fake_service,
    gateway_settings,
    in_process_gateway,
)
from test_gateway_proxy import consumer_token

from servicekit.auth import TokenIssuer
from servicekit.infra import free_port

MEDIATION_ROUTE = "/v1/consumer/cases/c-1"


async def test_a_failing_service_opens_its_circuit_and_a_trial_closes_it_when_it_is_back(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer
) -> None:
    port = free_port()
    settings = gateway_settings(upstreams, signing_key, mediation_url=f"http://127.0.0.1:{port}",
                                circuit_failure_threshold=3, circuit_open_seconds=1.5,
                                upstream_total_timeout=5.0)
    headers = bearer(consumer_token(gateway_issuer))
    async with in_process_gateway(settings) as gateway:
        for _ in range(3):
            failed = await gateway.get(MEDIATION_ROUTE, headers=headers)
            assert_problem(failed, 503, "upstream-unavailable")
            assert failed.headers["retry-after"] == "2"
            assert "not asked again" not in failed.json()["detail"], "the circuit opens only after the third failure"

        mediation, app = fake_service("mediation")
        server = ServerThread(app, port).start()
        try:
            refused = await gateway.get(MEDIATION_ROUTE, headers=headers)
            body = assert_problem(refused, 503, "upstream-unavailable")
            assert body["service"] == "mediation"
            assert "not asked again" in body["detail"]
            assert 1 <= int(refused.headers["retry-after"]) <= 2
            assert mediation.seen == [], "an open circuit must not ask the service"
            other = await gateway.get("/v1/consumer/complaints/x-1", headers=headers)
            assert other.status_code == 200, "only the failing service's circuit opens"

            await asyncio.sleep(1.6)
            started = time.monotonic()
            trial = await gateway.get(MEDIATION_ROUTE, headers=headers)
            assert trial.status_code == 200, trial.text
            assert len(mediation.seen) == 1
            assert time.monotonic() - started < 1
            assert (await gateway.get(MEDIATION_ROUTE, headers=headers)).status_code == 200
        finally:
            server.stop()
