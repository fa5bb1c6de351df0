"""The password grant's extra steps at the gateway (issue 14 item 4), against a stand-in merchants service whose
answers are those of architecture §5: the code travels as `totp`, merchants' `mfa-required` reaches the client as
a problem without a token, and an account owing setup gets only a short setup token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from gateway_testkit import INTERNAL_TOKEN, OTP_SECRET, SUBJECT_KEY, ServerThread, assert_problem, in_process_gateway

from gateway.settings import GatewaySettings
from gateway.tokens import SETUP_TOKEN_SECONDS
from servicekit.auth import generate_private_key_pem

CODE = "287082"
CLAIMS = {"sub": "", "aud": "regulator", "roles": ["regulator"], "region": "632801", "station_id": None}


def stand_in_merchants(seen: list[dict[str, Any]]) -> FastAPI:
    """with-totp needs the code; new-user must change its password and bind TOTP; others are refused."""
    app = FastAPI()

    @app.post("/internal/v1/credentials/verify")
    async def verify(payload: dict[str, Any]) -> JSONResponse:
        seen.append(payload)
        user = payload.get("username")
        if user == "with-totp" and "totp" not in payload:
            return JSONResponse({"type": "/problems/mfa-required", "title": "code", "status": 403}, status_code=403,
                                media_type="application/problem+json")
        if user == "with-totp" and payload["totp"] == CODE:
            return JSONResponse({**CLAIMS, "sub": user, "setup_required": []})
        if user == "new-user":
            return JSONResponse({**CLAIMS, "sub": user, "setup_required": ["password_change", "totp_enrolment"]})
        return JSONResponse({"type": "/problems/unauthenticated", "status": 401}, status_code=401)

    @app.post("/internal/v1/sessions")
    async def start_session(payload: dict[str, Any]) -> JSONResponse:
        # A staff sign-in opens a refresh-token family; its claims are the account's, as merchants would read them.
        return JSONResponse({"family_id": str(uuid.uuid4()), "refresh_token": f"ort_{uuid.uuid4().hex}",
                             "refresh_expires_in": 28800, "claims": {**CLAIMS, "sub": payload["subject"]}},
                            status_code=201)

    return app


@pytest.fixture(scope="module")
def merchants_seen() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    server = ServerThread(stand_in_merchants(seen)).start()
    yield server.url, seen
    server.stop()


@pytest.fixture
async def edge(merchants_seen: tuple[str, list[dict[str, Any]]]) -> AsyncIterator[httpx.AsyncClient]:
    url, _ = merchants_seen
    settings = GatewaySettings(environment="test", complaints_url=url, merchants_url=url, mediation_url=url,
                               jwt_private_key=generate_private_key_pem(), otp_secret=OTP_SECRET,
                               subject_key=SUBJECT_KEY, internal_token=INTERNAL_TOKEN, auth_rate_burst=1000,
                               log_json=False, log_level="WARNING")
    async with in_process_gateway(settings) as client:
        yield client


async def test_an_account_with_totp_gets_mfa_required_then_a_token_with_the_code(
    edge: httpx.AsyncClient, merchants_seen: tuple[str, list[dict[str, Any]]]
) -> None:
    _, seen = merchants_seen
    form = {"grant_type": "password", "username": "with-totp", "password": "Kunlun-road-28"}
    first = await edge.post("/auth/token", data=form)
    body = assert_problem(first, 403, "mfa-required")
    assert body["error"] == "mfa_required"
    assert "access_token" not in body
    assert "totp" not in seen[-1]
    second = await edge.post("/auth/token", data={**form, "totp": CODE})
    assert second.status_code == 200, second.text
    assert seen[-1]["totp"] == CODE
    wrong = await edge.post("/auth/token", data={**form, "totp": "000000"})
    assert assert_problem(wrong, 400, "invalid-grant")["error"] == "invalid_grant"


async def test_an_account_owing_setup_gets_only_a_short_setup_token(edge: httpx.AsyncClient) -> None:
    answer = await edge.post("/auth/token", data={"grant_type": "password", "username": "new-user",
                                                  "password": "temporary-1A"})
    body = assert_problem(answer, 403, "account-setup-required")
    assert answer.headers["cache-control"] == "no-store"
    assert body["setup_required"] == ["password_change", "totp_enrolment"]
    assert body["expires_in"] == SETUP_TOKEN_SECONDS == 600
    assert "access_token" not in body
    claims = jwt.decode(body["setup_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["roles"], claims["region"]) == (
        "new-user", "regulator", ["account_setup"], "632801")
    assert claims["exp"] - claims["iat"] == SETUP_TOKEN_SECONDS
