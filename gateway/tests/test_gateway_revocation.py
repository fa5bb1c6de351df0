"""A revoked or suspended enterprise client's token, or a disabled portal user's, stops working within 5 s, through
the cached status check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from gateway_testkit import (
    INTERNAL_TOKEN,
    MERCHANT_ID,
    ServerThread,
    Upstreams,
    bearer,
    gateway_settings,
    in_process_gateway,
)

from gateway.revocation import ClientStatusCache
from gateway.settings import GatewaySettings
from servicekit.auth import Audience, Role, TokenIssuer
from servicekit.problems import Problem


@dataclass
class MerchantsStandIn:
    """Answers the status check from a set the test edits; counts the checks and can be made to fail."""

    active: set[str] = field(default_factory=set)
    checks: list[str] = field(default_factory=list)
    failing: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/internal/v1/principals/{client_id}/active")
        async def client_active(client_id: str, x_internal_token: str = Header(default="")) -> JSONResponse:
            self.checks.append(client_id)
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            if self.failing:
                return JSONResponse({"detail": "boom"}, status_code=500)
            return JSONResponse({"client_id": client_id, "active": client_id in self.active})

        @app.get("/internal/v1/principals/portal-users/{username}/active")
        async def portal_user_active(username: str, x_internal_token: str = Header(default="")) -> JSONResponse:
            self.checks.append(f"portal:{username}")
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            return JSONResponse({"username": username, "active": f"portal:{username}" in self.active})

        return app


@pytest.fixture(scope="module")
def merchants() -> Iterator[tuple[MerchantsStandIn, ServerThread]]:
    stand_in = MerchantsStandIn()
    server = ServerThread(stand_in.app()).start()
    yield stand_in, server
    server.stop()


def settings_with(upstreams: Upstreams, signing_key: str, merchants_url: str) -> GatewaySettings:
    settings = gateway_settings(upstreams, signing_key, merchants_url=merchants_url)
    assert settings.client_status_ttl_seconds <= 5.0
    return settings


def enterprise_token(issuer: TokenIssuer, client_id: str) -> dict[str, str]:
    return bearer(issuer.issue(sub=client_id, aud=Audience.MERCHANT, roles=[Role.ENTERPRISE],
                               merchant_id=MERCHANT_ID, client_id=client_id))


async def test_a_revoked_clients_token_gets_401_within_5_seconds(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer,
    merchants: tuple[MerchantsStandIn, ServerThread],
) -> None:
    stand_in, server = merchants
    client_id = "odr_revoked_soon"
    stand_in.active.add(client_id)
    headers = enterprise_token(gateway_issuer, client_id)
    async with in_process_gateway(settings_with(upstreams, signing_key, server.url)) as gateway:
        for _ in range(3):
            allowed = await gateway.get("/v1/merchant/cases", headers=headers)
            assert allowed.status_code == 200, allowed.text
            assert allowed.json()["service"] == "mediation"
        assert stand_in.checks.count(client_id) == 1  # answered from the cache in between

        stand_in.active.discard(client_id)
        revoked_at = time.monotonic()
        while True:
            response = await gateway.get("/v1/merchant/cases", headers=headers)
            if response.status_code != 200:
                break
            assert time.monotonic() - revoked_at < 5.0, "the revoked token still works after 5 s"
            await asyncio.sleep(0.1)
        assert time.monotonic() - revoked_at < 5.0
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/unauthenticated"
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_disabled_portal_users_token_gets_401_within_5_seconds_and_an_api_client_is_unaffected(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer,
    merchants: tuple[MerchantsStandIn, ServerThread],
) -> None:
    stand_in, server = merchants
    stand_in.active.update({"portal:kunlun-agent", "odr_beside_the_agent"})
    agent = bearer(gateway_issuer.issue(sub="kunlun-agent", aud=Audience.MERCHANT,
                                        roles=[Role.ENTERPRISE, Role.ENTERPRISE_AGENT], merchant_id=MERCHANT_ID,
                                        region="632801"))
    api_client = enterprise_token(gateway_issuer, "odr_beside_the_agent")
    async with in_process_gateway(settings_with(upstreams, signing_key, server.url)) as gateway:
        assert (await gateway.get("/v1/merchant/cases", headers=agent)).status_code == 200
        assert "portal:kunlun-agent" in stand_in.checks

        stand_in.active.discard("portal:kunlun-agent")
        disabled_at = time.monotonic()
        while (response := await gateway.get("/v1/merchant/cases", headers=agent)).status_code == 200:
            assert time.monotonic() - disabled_at < 5.0, "the disabled user's token still works after 5 s"
            await asyncio.sleep(0.1)
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/unauthenticated"
        assert (await gateway.get("/v1/merchant/cases", headers=api_client)).status_code == 200


async def test_tokens_of_other_audiences_are_not_checked_and_a_failed_check_is_503(
    upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer,
    merchants: tuple[MerchantsStandIn, ServerThread],
) -> None:
    stand_in, server = merchants
    regulator = bearer(gateway_issuer.issue(sub="reg-golmud", aud=Audience.REGULATOR, roles=[Role.REGULATOR],
                                            region="632801"))
    async with in_process_gateway(settings_with(upstreams, signing_key, server.url)) as gateway:
        before = len(stand_in.checks)
        assert (await gateway.get("/v1/regulator/stats", headers=regulator)).status_code == 200
        assert len(stand_in.checks) == before
        stand_in.failing = True
        try:
            failed = await gateway.get("/v1/merchant/cases", headers=enterprise_token(gateway_issuer, "odr_unknown"))
        finally:
            stand_in.failing = False
        assert failed.status_code == 503
        assert failed.json()["type"] == "/problems/upstream-unavailable"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_cache_remembers_an_answer_for_ttl_and_shares_concurrent_fetches() -> None:
    clock = Clock()
    answers = {"odr_a": True}
    fetched: list[str] = []
    release = asyncio.Event()

    async def fetch(client_id: str) -> bool:
        fetched.append(client_id)
        await release.wait()
        return answers.get(client_id, False)

    cache = ClientStatusCache(fetch, ttl=4.0, clock=clock)
    waiting = [asyncio.create_task(cache.is_active("odr_a")) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [True] * 5
    assert fetched == ["odr_a"]

    answers["odr_a"] = False
    clock.now += 3.9
    assert await cache.is_active("odr_a") is True
    clock.now += 0.1
    assert await cache.is_active("odr_a") is False
    assert fetched == ["odr_a", "odr_a"]


async def test_a_failed_fetch_is_not_remembered() -> None:
    calls = 0

    async def fetch(client_id: str) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Problem("upstream-unavailable")
        return True

    cache = ClientStatusCache(fetch, ttl=4.0, clock=Clock())
    with pytest.raises(Problem):
        await cache.is_active("odr_b")
    assert await cache.is_active("odr_b") is True
