"""The proxy over real HTTP: routing, forwarded headers, tokens at the edge, body limits, failing services, streams."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt
from gateway_testkit import (
    GATEWAY_TIMEOUT,
    MERCHANT_ID,
    SSE_EVENTS,
    SSE_INTERVAL,
    Upstreams,
    assert_problem,
    bearer,
    gateway_settings,
    in_process_gateway,
)

from servicekit.auth import Audience, Role, TokenIssuer, generate_private_key_pem
from servicekit.infra import free_port

TWO_MB = 2 * 1024 * 1024


def consumer_token(issuer: TokenIssuer, ttl: timedelta = timedelta(hours=1)) -> str:
    return issuer.issue(sub="c_test", aud=Audience.CONSUMER, roles=[Role.CONSUMER], ttl=ttl)


async def test_an_allow_listed_request_reaches_its_service_with_body_query_and_headers(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams
) -> None:
    token = consumer_token(gateway_issuer)
    response = await gateway.post(
        "/v1/consumer/complaints?source=app&x=%E4%B8%AD",
        json={"title": "枸杞不符"},
        headers={**bearer(token), "Idempotency-Key": "k-1", "X-Request-Id": "req-123",
                 "X-Internal-Token": "forged", "X-Forwarded-For": "6.6.6.6"},
    )
    assert response.status_code == 201, response.text
    echoed = response.json()
    assert echoed["service"] == "complaints"
    assert (echoed["method"], echoed["path"]) == ("POST", "/v1/consumer/complaints")
    assert echoed["query"] == "source=app&x=%E4%B8%AD"
    assert json.loads(echoed["body"]) == {"title": "枸杞不符"}
    headers = echoed["headers"]
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["idempotency-key"] == "k-1"
    assert headers["x-request-id"] == "req-123"
    assert headers["x-correlation-id"] == "req-123"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert "x-internal-token" not in headers
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers.get_list("x-request-id") == ["req-123"]
    assert response.headers["etag"] == '"v1"'
    assert response.headers["x-upstream"] == "complaints"


async def test_each_audience_reaches_the_service_that_owns_the_route(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer
) -> None:
    merchant = gateway_issuer.issue(sub="client:x", aud=Audience.MERCHANT, roles=[Role.ENTERPRISE],
                                    merchant_id=MERCHANT_ID)
    regulator = gateway_issuer.issue(sub="reg", aud=Audience.REGULATOR, roles=[Role.REGULATOR], region="632801")
    expectations = [
        ("GET", "/v1/merchant/cases?status=open", merchant, "mediation"),
        ("PUT", "/v1/merchant/webhook", merchant, "merchants"),
        ("GET", "/v1/regulator/stats?region=632801", regulator, "complaints"),
        ("POST", "/v1/regulator/merchants/m-1/suspend", regulator, "merchants"),
        ("GET", "/v1/regulator/audit/verify", regulator, "mediation"),
    ]
    for method, path, token, service in expectations:
        response = await gateway.request(method, path, headers=bearer(token))
        assert response.status_code in (200, 201), response.text
        assert response.json()["service"] == service, path


async def test_a_public_route_needs_no_token(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/public/complaints?merchant=abc")
    assert response.status_code == 200
    assert response.json()["query"] == "merchant=abc"


async def test_paths_outside_the_allow_list_are_404_problems(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams, probe: str
) -> None:
    token = consumer_token(gateway_issuer)
    for method, path in [
        ("GET", f"/v1/consumer/unknown?{probe}"),
        ("DELETE", f"/v1/consumer/complaints?{probe}"),
        ("POST", f"/internal/v1/credentials/verify?{probe}"),
        ("GET", f"/v1/consumer/complaints/%2e%2e?{probe}"),
        ("GET", f"/v1/consumer/secret-admin?{probe}"),
    ]:
        response = await gateway.request(method, path, headers=bearer(token))
        assert_problem(response, 404, "not-found")
    assert not any(service.saw(probe) for service in (upstreams.complaints, upstreams.merchants, upstreams.mediation))


async def test_a_token_of_another_audience_is_forbidden(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams, probe: str
) -> None:
    merchant = gateway_issuer.issue(sub="client:x", aud=Audience.MERCHANT, roles=[Role.ENTERPRISE],
                                    merchant_id=MERCHANT_ID)
    response = await gateway.get(f"/v1/consumer/complaints?{probe}", headers=bearer(merchant))
    body = assert_problem(response, 403, "forbidden")
    assert "consumer" in body["detail"]
    assert not upstreams.complaints.saw(probe)


async def test_missing_expired_and_foreign_tokens_are_401(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams, probe: str
) -> None:
    expired = consumer_token(gateway_issuer, ttl=timedelta(seconds=-30))
    foreign = consumer_token(TokenIssuer(generate_private_key_pem(), "odr-gateway"))
    for headers in ({}, bearer(expired), bearer(foreign), bearer("not-a-jwt"), {"Authorization": "Basic eDp5"}):
        response = await gateway.get(f"/v1/consumer/complaints?{probe}", headers=headers)
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
    expired_response = await gateway.get("/v1/consumer/complaints", headers=bearer(expired))
    assert "expired" in expired_response.json()["detail"]
    assert not upstreams.complaints.saw(probe)


async def test_a_2_mb_body_is_refused_before_the_service_sees_it(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams, probe: str
) -> None:
    headers = {**bearer(consumer_token(gateway_issuer)), "Content-Type": "application/json"}
    declared = await gateway.post(f"/v1/consumer/complaints?{probe}", content=b"x" * TWO_MB, headers=headers)
    assert_problem(declared, 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"y" * (64 * 1024)

    streamed = await gateway.post(f"/v1/consumer/complaints?{probe}", content=chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "payload-too-large")
    assert not upstreams.complaints.saw(probe)


async def test_a_body_within_the_limit_passes(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer, upstreams: Upstreams, probe: str
) -> None:
    headers = {**bearer(consumer_token(gateway_issuer)), "Content-Type": "text/plain"}
    response = await gateway.post(f"/v1/consumer/reports?{probe}", content=b"z" * 900_000, headers=headers)
    assert response.status_code == 201
    assert len(response.json()["body"]) == 900_000
    assert upstreams.complaints.saw(probe)


async def test_a_slow_service_gives_a_504_problem(gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer) -> None:
    started = time.monotonic()
    response = await gateway.get("/v1/consumer/complaints/slow-1",
                                 headers={**bearer(consumer_token(gateway_issuer)), "X-Test-Delay": "2"})
    elapsed = time.monotonic() - started
    body = assert_problem(response, 504, "upstream-timeout")
    assert body["service"] == "complaints"
    assert GATEWAY_TIMEOUT <= elapsed < GATEWAY_TIMEOUT + 1.0


async def test_a_stopped_service_gives_a_503_problem_at_once(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer
) -> None:
    settings = gateway_settings(upstreams, signing_key, mediation_url=f"http://127.0.0.1:{free_port()}")
    async with in_process_gateway(settings) as gateway:
        started = time.monotonic()
        response = await gateway.get("/v1/consumer/cases/c-1", headers=bearer(consumer_token(gateway_issuer)))
        body = assert_problem(response, 503, "upstream-unavailable")
        assert body["service"] == "mediation"
        assert time.monotonic() - started < 0.5
        ready = await gateway.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mediation"].startswith("unavailable")
        assert ready.json()["checks"]["complaints"] == "ok"


async def test_event_streams_pass_through_as_they_happen(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer
) -> None:
    arrivals: list[tuple[float, str]] = []
    started = time.monotonic()
    async with gateway.stream("GET", "/v1/consumer/cases/c-1/stream",
                              headers={**bearer(consumer_token(gateway_issuer)),
                                       "Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                arrivals.append((time.monotonic() - started, line))
    assert [line for _, line in arrivals] == [f'data: {{"n": {n}}}' for n in range(SSE_EVENTS)]
    first, last = arrivals[0][0], arrivals[-1][0]
    assert first < SSE_INTERVAL, "the first event was held back"
    assert last - first >= (SSE_EVENTS - 1) * SSE_INTERVAL * 0.9
    assert last > GATEWAY_TIMEOUT, "a stream outlives the request timeout"


async def test_open_streams_do_not_starve_ordinary_requests(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer
) -> None:
    settings = gateway_settings(upstreams, signing_key, upstream_pool_size=2)
    token = bearer(consumer_token(gateway_issuer))
    async with in_process_gateway(settings) as gateway:
        streams = [asyncio.create_task(gateway.get("/v1/consumer/cases/c-1/stream",
                                                   headers={**token, "Accept": "text/event-stream"}))
                   for _ in range(3)]
        await asyncio.sleep(SSE_INTERVAL / 2)  # every stream now holds an upstream connection
        started = time.monotonic()
        ordinary = await gateway.get("/v1/consumer/cases/c-1", headers=token)
        assert ordinary.status_code == 200
        assert time.monotonic() - started < SSE_INTERVAL, "the request waited for a stream's connection"
        assert [stream.status_code for stream in await asyncio.gather(*streams)] == [200, 200, 200]


async def test_readiness_follows_the_services_and_metrics_are_exposed(gateway: httpx.AsyncClient) -> None:
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"complaints": "ok", "merchants": "ok", "mediation": "ok"}
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    metrics = await gateway.get("/metrics")
    assert "odr_gateway_upstream_seconds" in metrics.text
    assert 'odr_http_requests_total{method="GET",route="/readyz",service="gateway"' in metrics.text


async def test_a_token_accepted_before_is_refused_once_it_expires(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer
) -> None:
    token = consumer_token(gateway_issuer, ttl=timedelta(seconds=1))
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert (await gateway.get("/v1/consumer/complaints", headers=bearer(token))).status_code == 200
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.05)
    response = await gateway.get("/v1/consumer/complaints", headers=bearer(token))
    assert_problem(response, 401, "unauthenticated")


async def test_request_metrics_name_the_route_template_never_the_path(
    gateway: httpx.AsyncClient, gateway_issuer: TokenIssuer
) -> None:
    token = bearer(consumer_token(gateway_issuer))
    for case in ("c-metrics-1", "c-metrics-2"):
        assert (await gateway.get(f"/v1/consumer/cases/{case}", headers=token)).status_code == 200

    scraped = (await gateway.get("/metrics")).text
    assert 'route="/v1/consumer/cases/{id}",service="gateway",status="200"' in scraped
    assert "c-metrics-1" not in scraped
