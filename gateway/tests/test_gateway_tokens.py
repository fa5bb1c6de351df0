"""Token endpoints: one-time codes for consumers, credentials checked by the merchants service, the JWKS."""

import base64
import hashlib
import hmac
from typing import Any

import httpx
import jwt
from gateway_testkit import (
    CLIENT_ID,
    CLIENT_SECRET,
    INTERNAL_TOKEN,
    LIMITED_PHONE,
    MERCHANT_ID,
    PORTAL_PASSWORD,
    PORTAL_USERNAME,
    STAFF_PASSWORD,
    STAFF_USERNAME,
    SUBJECT_KEY,
    Upstreams,
    assert_problem,
    bearer,
    gateway_settings,
    in_process_gateway,
)

from gateway.otp import WINDOW_SECONDS, OtpCodes
from servicekit.auth import consumer_subject
from servicekit.infra import free_port

PHONE = "13800138000"


async def verified_claims(gateway: httpx.AsyncClient, token: str, audience: str) -> dict[str, Any]:
    """Decode a token with nothing but the published JWKS, as a third party would."""
    key_set = jwt.PyJWKSet.from_dict((await gateway.get("/.well-known/jwks.json")).json())
    header = jwt.get_unverified_header(token)
    key = next(key for key in key_set.keys if key.key_id == header["kid"])
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer="odr-gateway")
    return claims


async def token_for(gateway: httpx.AsyncClient, *, enterprise: bool = False, **form: str) -> str:
    response = await gateway.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    # An enterprise's machine clients' tokens last an hour and are not refreshed; consumers, staff and the portal's
    # people refresh a 15-minute token.
    enterprise = enterprise or form["grant_type"] == "client_credentials"
    assert body["expires_in"] == (3600 if enterprise else 900)
    assert ("refresh_token" in body) == (not enterprise)
    assert response.headers["cache-control"] == "no-store"
    token: str = body["access_token"]
    return token


async def test_otp_sign_in_gives_a_consumer_token_that_the_jwks_verifies(gateway: httpx.AsyncClient) -> None:
    issued = await gateway.post("/auth/otp", json={"phone": PHONE})
    assert issued.status_code == 202
    assert issued.json()["expires_in"] == 300
    code = issued.json()["dev_code"]
    assert len(code) == 6
    assert code.isdigit()

    token = await token_for(gateway, grant_type="otp", phone=PHONE, code=code)
    claims = await verified_claims(gateway, token, "consumer")
    expected_sub = "c_" + hmac.new(SUBJECT_KEY.encode(), f"sub:{PHONE}".encode(), hashlib.sha256).hexdigest()[:24]
    assert claims["sub"] == expected_sub == consumer_subject(PHONE, SUBJECT_KEY)
    assert claims["roles"] == ["consumer"]
    assert PHONE not in str(claims)

    proxied = await gateway.get("/v1/consumer/complaints", headers=bearer(token))
    assert proxied.status_code == 200
    assert proxied.json()["service"] == "complaints"


async def test_the_code_is_queued_as_a_text_message_at_complaints(gateway: httpx.AsyncClient,
                                                                  upstreams: Upstreams) -> None:
    issued = await gateway.post("/auth/otp", json={"phone": "13500135000"})
    assert issued.status_code == 202
    queued = upstreams.complaints.sign_in_codes[-1]
    assert queued == {"phone": "13500135000", "code": issued.json()["dev_code"], "client_address": "127.0.0.1"}
    limited = await gateway.post("/auth/otp", json={"phone": LIMITED_PHONE})
    assert assert_problem(limited, 429, "rate-limited")
    assert limited.headers["retry-after"] == "60"


async def test_without_the_complaints_service_no_code_is_issued(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, complaints_url=f"http://127.0.0.1:{free_port()}")
    async with in_process_gateway(settings) as gateway:
        assert_problem(await gateway.post("/auth/otp", json={"phone": PHONE}), 503, "upstream-unavailable")


async def test_the_token_endpoint_also_takes_json(gateway: httpx.AsyncClient) -> None:
    code = (await gateway.post("/auth/otp", json={"phone": "13900139000"})).json()["dev_code"]
    response = await gateway.post("/auth/token", json={"grant_type": "otp", "phone": "13900139000", "code": code})
    assert response.status_code == 200
    assert (await verified_claims(gateway, response.json()["access_token"], "consumer"))["aud"] == "consumer"


def test_a_code_lives_for_its_window_and_the_next() -> None:
    codes = OtpCodes("secret")
    issued_at = 1_800_000_000.0
    code = codes.issue(PHONE, now=issued_at)
    assert codes.verify(PHONE, code, now=issued_at + WINDOW_SECONDS)
    assert not codes.verify(PHONE, code, now=issued_at + 2 * WINDOW_SECONDS)
    assert not codes.verify("13900139000", code, now=issued_at)
    assert not OtpCodes("another secret").verify(PHONE, code, now=issued_at)


async def test_bad_phone_numbers_and_wrong_codes_are_refused(gateway: httpx.AsyncClient) -> None:
    for phone in ("12800138000", "1380013800", "+8613800138000", "138001380001"):
        body = assert_problem(await gateway.post("/auth/otp", json={"phone": phone}), 422, "validation-error")
        assert body["errors"][0]["field"] == "body.phone"
    assert_problem(await gateway.post("/auth/otp", json={"phone": PHONE, "extra": 1}), 422, "validation-error")
    code = (await gateway.post("/auth/otp", json={"phone": PHONE})).json()["dev_code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = assert_problem(await gateway.post("/auth/token", data={"grant_type": "otp", "phone": PHONE, "code": wrong}),
                          400, "invalid-grant")
    assert body["error"] == "invalid_grant"


async def test_client_credentials_give_an_enterprise_token(gateway: httpx.AsyncClient, upstreams: Upstreams) -> None:
    token = await token_for(gateway, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    claims = await verified_claims(gateway, token, "merchant")
    assert claims["merchant_id"] == MERCHANT_ID
    assert claims["region"] == "632801"
    assert claims["client_id"] == CLIENT_ID
    assert claims["roles"] == ["enterprise"]
    assert "station_id" not in claims
    check = next(entry for entry in reversed(upstreams.merchants.seen) if entry["path"] == "credentials")
    assert check["token"] == INTERNAL_TOKEN
    assert check["payload"] == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                "client_secret": CLIENT_SECRET}

    cases = await gateway.get("/v1/merchant/cases", headers=bearer(token))
    assert cases.status_code == 200
    assert cases.json()["service"] == "mediation"


async def test_client_credentials_may_come_as_http_basic(gateway: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await gateway.post("/auth/token", data={"grant_type": "client_credentials"},
                                  headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text


async def test_the_password_grant_gives_a_staff_token(gateway: httpx.AsyncClient) -> None:
    token = await token_for(gateway, grant_type="password", username=STAFF_USERNAME, password=STAFF_PASSWORD)
    claims = await verified_claims(gateway, token, "regulator")
    assert (claims["sub"], claims["region"], claims["roles"]) == (STAFF_USERNAME, "632801", ["regulator"])
    stats = await gateway.get("/v1/regulator/stats", headers=bearer(token))
    assert stats.json()["service"] == "complaints"


async def test_the_password_grant_gives_a_portal_user_an_enterprise_token_checked_by_username(
    gateway: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    token = await token_for(gateway, grant_type="password", username=PORTAL_USERNAME, password=PORTAL_PASSWORD)
    claims = await verified_claims(gateway, token, "merchant")
    assert (claims["sub"], claims["merchant_id"], claims["roles"]) == (
        PORTAL_USERNAME, MERCHANT_ID, ["enterprise", "enterprise_admin"])
    assert "client_id" not in claims
    cases = await gateway.get("/v1/merchant/cases", headers=bearer(token))
    assert cases.status_code == 200, cases.text
    assert cases.json()["service"] == "mediation"
    assert any(entry["path"] == "portal-user-active" and entry["payload"] == PORTAL_USERNAME
               for entry in upstreams.merchants.seen), "the gateway asked whether the person is still active"


async def test_bad_grants_are_oauth_problems(gateway: httpx.AsyncClient) -> None:
    cases = [
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"}, 401,
         "invalid_client"),
        ({"grant_type": "password", "username": STAFF_USERNAME, "password": "wrong"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": STAFF_USERNAME}, 400, "invalid_request"),
        ({"grant_type": "otp", "phone": "123", "code": "123456"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
    ]
    for form, status, error in cases:
        response = await gateway.post("/auth/token", data=form)
        body = assert_problem(response, status, error.replace("_", "-"))
        assert body["error"] == error
    as_text = await gateway.post("/auth/token", content=b"grant_type=otp", headers={"Content-Type": "text/plain"})
    assert_problem(as_text, 400, "invalid-request")


async def test_sign_in_is_rate_limited_per_address(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, auth_rate_burst=3, auth_rate_per_minute=6)
    async with in_process_gateway(settings) as gateway:
        statuses = [(await gateway.post("/auth/otp", json={"phone": PHONE})).status_code for _ in range(3)]
        assert statuses == [202, 202, 202]
        refused = await gateway.post("/auth/token", data={"grant_type": "otp", "phone": PHONE, "code": "000000"})
        assert_problem(refused, 429, "rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 10


async def test_code_guessing_is_capped_per_phone(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, otp_attempts_per_phone=2)
    async with in_process_gateway(settings) as gateway:
        guesses = [await gateway.post("/auth/token", data={"grant_type": "otp", "phone": PHONE, "code": "000000"})
                   for _ in range(3)]
        assert [guess.status_code for guess in guesses[:2]] == [400, 400]
        assert_problem(guesses[2], 429, "rate-limited")


async def test_a_stopped_merchants_service_gives_503_not_a_hang(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, merchants_url=f"http://127.0.0.1:{free_port()}")
    async with in_process_gateway(settings) as gateway:
        response = await gateway.post("/auth/token", data={"grant_type": "client_credentials",
                                                           "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        assert_problem(response, 503, "upstream-unavailable")
