"""The edge (issue 14, item 8): client addresses from X-Forwarded-For only through trusted proxies, /metrics not
public, security headers on every answer, CORS only for the configured origins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from gateway_testkit import INTERNAL_TOKEN, Upstreams, assert_problem, gateway_settings

from gateway.edge import forwarded_client, networks
from gateway.main import create_app

Client = Callable[..., Any]


@asynccontextmanager
async def edge(upstreams: Upstreams, signing_key: str, peer: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in process, called from TCP peer `peer`."""
    app = create_app(gateway_settings(upstreams, signing_key, **settings))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://odr.test") as client:
            yield client


def test_the_client_is_the_right_most_address_no_trusted_proxy_added() -> None:
    trusted = networks(["10.0.0.0/8", "192.0.2.1"])
    assert forwarded_client("10.1.2.3", "1.1.1.1, 203.0.113.7, 10.9.9.9", trusted) == "203.0.113.7"
    assert forwarded_client("192.0.2.1", "203.0.113.7", trusted) == "203.0.113.7"
    # Not from a trusted proxy: the header is the client's own claim and is ignored.
    assert forwarded_client("198.51.100.4", "203.0.113.7", trusted) == "198.51.100.4"
    assert forwarded_client("10.1.2.3", None, trusted) == "10.1.2.3"
    assert forwarded_client("10.1.2.3", "10.2.2.2", trusted) == "10.2.2.2"
    assert forwarded_client("10.1.2.3", "1.1.1.1", networks([])) == "10.1.2.3"


async def test_sign_in_limits_count_the_forwarded_client_only_behind_a_trusted_proxy(
    upstreams: Upstreams, signing_key: str,
) -> None:
    limits = {"auth_rate_burst": 2, "auth_rate_per_minute": 0.001, "trusted_proxies": ["10.0.0.1"]}

    async def otp(client: httpx.AsyncClient, forwarded_for: str) -> int:
        response = await client.post("/auth/otp", json={"phone": "13800138000"},
                                     headers={"X-Forwarded-For": forwarded_for})
        return response.status_code

    async with edge(upstreams, signing_key, "10.0.0.1", **limits) as ingress:
        assert [await otp(ingress, "203.0.113.1") for _ in range(3)] == [202, 202, 429]
        assert await otp(ingress, "203.0.113.2") == 202
        assert await otp(ingress, "203.0.113.1, 203.0.113.2") == 202
    async with edge(upstreams, signing_key, "198.51.100.9", **limits) as direct:
        # A caller that is not a trusted proxy cannot pose as many clients.
        assert [await otp(direct, f"203.0.113.{n}") for n in range(3)] == [202, 202, 429]


async def test_metrics_answer_only_the_internal_token_or_an_allowed_network(
    upstreams: Upstreams, signing_key: str,
) -> None:
    async with edge(upstreams, signing_key, "203.0.113.9") as public:
        assert_problem(await public.get("/metrics"), 404, "not-found")
        assert_problem(await public.get("/metrics", headers={"X-Internal-Token": "guess"}), 404, "not-found")
        scraped = await public.get("/metrics", headers={"X-Internal-Token": INTERNAL_TOKEN})
        assert scraped.status_code == 200
        assert "odr_http_requests_total" in scraped.text
        # The services' own /metrics are not in the allow-list.
        for path in ("/v1/metrics", "/complaints/metrics", "/internal/metrics"):
            assert (await public.get(path)).status_code == 404
    async with edge(upstreams, signing_key, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
    async with edge(upstreams, signing_key, "10.0.0.1", trusted_proxies=["10.0.0.1"],
                    metrics_allowed_networks=["10.0.0.0/8"]) as ingress:
        # Allowed by the TCP peer only: a public client through the ingress is not the scraper.
        assert (await ingress.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})).status_code == 404


async def test_every_answer_has_the_security_headers_and_hsts_only_over_tls(
    upstreams: Upstreams, signing_key: str,
) -> None:
    async with edge(upstreams, signing_key, "10.0.0.1", trusted_proxies=["10.0.0.1"]) as client:
        for response in (await client.get("/healthz"), await client.get("/no/such/path"),
                         await client.post("/auth/token", data={"grant_type": "nonsense"}),
                         await client.get("/app/")):
            assert response.headers["x-content-type-options"] == "nosniff", response.url
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-frame-options"] == "DENY"
            assert "strict-transport-security" not in response.headers
        over_tls = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert over_tls.headers["strict-transport-security"].startswith("max-age=")
    async with edge(upstreams, signing_key, "198.51.100.9") as untrusted:
        claimed = await untrusted.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in claimed.headers


async def test_cors_only_for_the_platforms_own_origins(upstreams: Upstreams, signing_key: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with edge(upstreams, signing_key, "198.51.100.9", cors_origins=["https://odr.example"]) as client:
        own = await client.options("/v1/consumer/complaints", headers={"Origin": "https://odr.example", **preflight})
        assert own.status_code == 200
        assert own.headers["access-control-allow-origin"] == "https://odr.example"
        foreign = await client.options("/v1/consumer/complaints", headers={"Origin": "https://evil.example",
                                                                           **preflight})
        assert "access-control-allow-origin" not in foreign.headers
        simple = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
    async with edge(upstreams, signing_key, "198.51.100.9") as default:
        answer = await default.get("/healthz", headers={"Origin": "https://odr.example"})
        assert "access-control-allow-origin" not in answer.headers
