"""The real gateway in front of this service: client_credentials sign-in, then a revocation that bites within 5 s."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from merchants_testkit import INTERNAL_TOKEN, ApproveMerchant, eventually
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.main import create_app as create_gateway
from gateway.routes import ROUTES, Upstream
from gateway.settings import GatewaySettings
from merchants.credentials import service as credentials_service
from merchants.credentials.models import StaffAccount
from servicekit.auth import generate_private_key_pem
from servicekit.db import utcnow
from servicekit.infra import free_port
from servicekit.testing.plugin import Tokens


async def serve(app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serve `app` over real HTTP from this event loop (sharing the running app's database pool)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None,
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: started(server), within=10, interval=0.02)
    return server, task, f"http://127.0.0.1:{port}"


async def started(server: uvicorn.Server) -> bool:
    return server.started


def stand_in_mediation() -> FastAPI:
    cases = FastAPI()

    @cases.get("/v1/merchant/cases")
    async def list_cases() -> dict[str, object]:
        return {"items": [], "next_cursor": None}

    # It stands in for complaints too, which queues the sign-in codes as text messages.
    @cases.post("/internal/v1/sms/sign-in-codes", status_code=202)
    async def queue_sign_in_code() -> dict[str, object]:
        return {"queued": True}

    return cases


@pytest.fixture
async def gateway(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    merchants_server, merchants_task, merchants_url = await serve(app)
    mediation_server, mediation_task, mediation_url = await serve(stand_in_mediation())
    settings = GatewaySettings(environment="test", merchants_url=merchants_url, mediation_url=mediation_url,
                               complaints_url=mediation_url, jwt_private_key=generate_private_key_pem(),
                               internal_token=INTERNAL_TOKEN, otp_secret="test-otp-secret", auth_rate_burst=1000,
                               log_json=False, log_level="WARNING")
    edge = create_gateway(settings)
    try:
        async with LifespanManager(edge), httpx.AsyncClient(transport=httpx.ASGITransport(edge),
                                                            base_url="http://gateway") as client:
            yield client
    finally:
        for server, task in ((merchants_server, merchants_task), (mediation_server, mediation_task)):
            server.should_exit = True
            await task


async def test_a_revoked_enterprise_token_is_refused_at_the_gateway_within_5_seconds(
    gateway: httpx.AsyncClient, client: httpx.AsyncClient, tokens: Tokens, approved_merchant: ApproveMerchant
) -> None:
    issued = await approved_merchant()
    token = await gateway.post("/auth/token", data={"grant_type": "client_credentials", "client_id": issued.client_id,
                                                    "client_secret": issued.client_secret})
    assert token.status_code == 200, token.text
    enterprise = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await gateway.get("/v1/merchant/cases", headers=enterprise)).status_code == 200

    revoked = await client.post(f"/v1/regulator/merchants/{issued.merchant_id}/revoke", json={"reason": "吊销"},
                                headers={"Authorization": f"Bearer {tokens.regulator()}"})
    assert revoked.status_code == 200
    revoked_at = time.monotonic()
    while (answer := await gateway.get("/v1/merchant/cases", headers=enterprise)).status_code == 200:
        assert time.monotonic() - revoked_at < 5.0, "the revoked enterprise's token still works after 5 s"
        await asyncio.sleep(0.1)
    assert answer.status_code == 401
    assert time.monotonic() - revoked_at < 5.0
    again = await gateway.post("/auth/token", data={"grant_type": "client_credentials", "client_id": issued.client_id,
                                                    "client_secret": issued.client_secret})
    assert again.status_code == 401


def test_every_public_endpoint_is_allow_listed_at_the_gateway_and_nothing_else(app: FastAPI) -> None:
    def shape(template: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", template)

    served = {(method.upper(), shape(path)) for path, operations in app.openapi()["paths"].items()
              if path.startswith("/v1/") for method in operations}
    allowed = {(route.method, shape(route.template)) for route in ROUTES if route.service == Upstream.MERCHANTS}
    assert served == allowed


async def test_through_the_gateway_a_staff_session_rotates_and_ends_when_the_account_is_disabled(
        gateway: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    username = f"reg-{secrets.token_hex(4)}"
    async with sessionmaker() as session:
        await credentials_service.upsert_staff_account(session, username=username, password="pw-" + username,
                                                       role="regulator", region_code="632801",
                                                       display_name="格尔木审核员")
    signed_in = await gateway.post("/auth/token", data={"grant_type": "password", "username": username,
                                                        "password": "pw-" + username})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["expires_in"] == 900
    refreshed = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": signed_in.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["region"], claims["roles"]) == (
        username, "regulator", "632801", ["regulator"])

    async with sessionmaker() as session, session.begin():
        await session.execute(update(StaffAccount).where(StaffAccount.username == username)
                              .values(disabled_at=utcnow()))
    refused = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": refreshed.json()["refresh_token"]})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


async def test_through_the_gateway_a_replayed_consumer_refresh_token_signs_every_copy_out(
        gateway: httpx.AsyncClient) -> None:
    phone = "13600136000"
    code = (await gateway.post("/auth/otp", json={"phone": phone})).json()["dev_code"]
    first = (await gateway.post("/auth/token", data={"grant_type": "otp", "phone": phone, "code": code})).json()
    second = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    replay = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": first["refresh_token"]})
    assert replay.json()["error"] == "invalid_grant"
    current = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": second.json()["refresh_token"]})
    assert current.json()["error"] == "invalid_grant"

    code = (await gateway.post("/auth/otp", json={"phone": phone})).json()["dev_code"]
    again = (await gateway.post("/auth/token", data={"grant_type": "otp", "phone": phone, "code": code})).json()
    assert (await gateway.post("/auth/revoke", data={"token": again["refresh_token"]})).status_code == 200
    revoked = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": again["refresh_token"]})
    assert revoked.json()["error"] == "invalid_grant"
