"""Refresh tokens at the gateway: the refresh_token grant, /auth/revoke, and the browser's HttpOnly session cookie."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import jwt
from gateway_testkit import (
    CLIENT_ID,
    CLIENT_SECRET,
    MERCHANT_ID,
    PORTAL_PASSWORD,
    PORTAL_USERNAME,
    REFRESH_TTL,
    STAFF_PASSWORD,
    STAFF_USERNAME,
    Upstreams,
    assert_problem,
    bearer,
    gateway_settings,
    in_process_gateway,
)

PHONE = "13700137000"
CONSUMER_COOKIE = {"X-Session-Cookie": "consumer"}
STAFF_COOKIE = {"X-Session-Cookie": "regulator"}
PORTAL_COOKIE = {"X-Session-Cookie": "merchant"}


async def otp_sign_in(gateway: httpx.AsyncClient, *, headers: dict[str, str] | None = None) -> httpx.Response:
    code = (await gateway.post("/auth/otp", json={"phone": PHONE})).json()["dev_code"]
    return await gateway.post("/auth/token", data={"grant_type": "otp", "phone": PHONE, "code": code},
                              headers=headers or {})


def set_cookie(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


async def test_a_refresh_token_rotates_and_its_reuse_is_an_invalid_grant(gateway: httpx.AsyncClient) -> None:
    signed_in = (await otp_sign_in(gateway)).json()
    assert signed_in["refresh_expires_in"] == REFRESH_TTL
    refreshed = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": signed_in["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.headers["cache-control"] == "no-store"
    body = refreshed.json()
    assert body["expires_in"] == 900
    assert body["refresh_token"] != signed_in["refresh_token"]
    proxied = await gateway.get("/v1/consumer/complaints", headers=bearer(body["access_token"]))
    assert proxied.status_code == 200

    reused = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": signed_in["refresh_token"]})
    assert assert_problem(reused, 400, "invalid-grant")["error"] == "invalid_grant"
    after = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": body["refresh_token"]})
    assert_problem(after, 400, "invalid-grant")
    missing = await gateway.post("/auth/token", data={"grant_type": "refresh_token"})
    assert_problem(missing, 400, "invalid-request")


async def test_revocation_ends_the_session_and_unknown_tokens_answer_200(gateway: httpx.AsyncClient) -> None:
    signed_in = (await otp_sign_in(gateway)).json()
    revoked = await gateway.post("/auth/revoke", data={"token": signed_in["refresh_token"],
                                                       "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    refused = await gateway.post("/auth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": signed_in["refresh_token"]})
    assert_problem(refused, 400, "invalid-grant")
    assert (await gateway.post("/auth/revoke", data={"token": "never-issued"})).status_code == 200
    assert (await gateway.post("/auth/revoke", data={"token": signed_in["access_token"]})).status_code == 200
    assert_problem(await gateway.post("/auth/revoke", data={}), 400, "invalid-request")


async def test_a_browser_gets_the_refresh_token_only_as_an_http_only_cookie(gateway: httpx.AsyncClient) -> None:
    signed_in = await otp_sign_in(gateway, headers=CONSUMER_COOKIE)
    assert signed_in.status_code == 200, signed_in.text
    assert "refresh_token" not in signed_in.json()
    cookie = set_cookie(signed_in)["odr_refresh_consumer"]
    assert cookie.value.startswith("ort_")
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/auth"
    assert cookie["max-age"] == str(REFRESH_TTL)
    assert not cookie["secure"]

    # The cookie (path /auth) comes back only to the token and revoke endpoints.
    refreshed = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=CONSUMER_COOKIE)
    assert refreshed.status_code == 200, refreshed.text
    rotated = set_cookie(refreshed)["odr_refresh_consumer"].value
    assert rotated != cookie.value
    assert gateway.cookies.get("odr_refresh_consumer", path="/auth") == rotated

    signed_out = await gateway.post("/auth/revoke", headers=CONSUMER_COOKIE)
    assert signed_out.status_code == 200
    assert set_cookie(signed_out)["odr_refresh_consumer"]["max-age"] == "0"
    gateway.cookies.set("odr_refresh_consumer", rotated, path="/auth")
    refused = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=CONSUMER_COOKIE)
    assert_problem(refused, 400, "invalid-grant")
    assert set_cookie(refused)["odr_refresh_consumer"]["max-age"] == "0"


async def test_a_staff_cookie_ends_with_the_browser_and_names_its_audience(gateway: httpx.AsyncClient) -> None:
    signed_in = await gateway.post("/auth/token", data={"grant_type": "password", "username": STAFF_USERNAME,
                                                        "password": STAFF_PASSWORD}, headers=STAFF_COOKIE)
    assert signed_in.status_code == 200, signed_in.text
    cookie = set_cookie(signed_in)["odr_refresh_regulator"]
    assert cookie["max-age"] == ""
    # A consumer's cookie header on a staff sign-in, or a cookie of no audience, is a malformed request.
    crossed = await gateway.post("/auth/token", data={"grant_type": "password", "username": STAFF_USERNAME,
                                                      "password": STAFF_PASSWORD}, headers=CONSUMER_COOKIE)
    assert_problem(crossed, 400, "invalid-request")
    nameless = await gateway.post("/auth/token", data={"grant_type": "refresh_token"},
                                  headers={"X-Session-Cookie": "enterprise"})
    assert_problem(nameless, 400, "invalid-request")


async def test_a_portal_user_refreshes_from_a_merchant_cookie_and_signing_out_ends_the_family(
        gateway: httpx.AsyncClient, upstreams: Upstreams) -> None:
    signed_in = await gateway.post("/auth/token", data={"grant_type": "password", "username": PORTAL_USERNAME,
                                                        "password": PORTAL_PASSWORD}, headers=PORTAL_COOKIE)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["expires_in"] == 900
    assert "refresh_token" not in signed_in.json()
    cookie = set_cookie(signed_in)["odr_refresh_merchant"]
    assert cookie.value.startswith("ort_")
    assert (cookie["httponly"], cookie["samesite"], cookie["path"], cookie["max-age"]) == (True, "Strict", "/auth", "")
    # The staff cookie cannot carry an enterprise's session, nor the enterprise cookie a staff member's.
    crossed = await gateway.post("/auth/token", data={"grant_type": "password", "username": PORTAL_USERNAME,
                                                      "password": PORTAL_PASSWORD}, headers=STAFF_COOKIE)
    assert_problem(crossed, 400, "invalid-request")
    staff_in_portal = await gateway.post("/auth/token", data={"grant_type": "password", "username": STAFF_USERNAME,
                                                              "password": STAFF_PASSWORD}, headers=PORTAL_COOKIE)
    assert_problem(staff_in_portal, 400, "invalid-request")

    refreshed = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=PORTAL_COOKIE)
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["sub"], claims["merchant_id"], claims["roles"]) == (
        "merchant", PORTAL_USERNAME, MERCHANT_ID, ["enterprise", "enterprise_admin"])
    assert claims["exp"] - claims["iat"] == 900
    cases = await gateway.get("/v1/merchant/cases", headers=bearer(token))
    assert cases.status_code == 200, cases.text

    # The first cookie, presented again after its rotation, revokes the family: the current one fails too.
    rotated = set_cookie(refreshed)["odr_refresh_merchant"].value
    gateway.cookies.clear()
    gateway.cookies.set("odr_refresh_merchant", cookie.value, path="/auth")
    reused = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=PORTAL_COOKIE)
    assert_problem(reused, 400, "invalid-grant")
    gateway.cookies.clear()
    gateway.cookies.set("odr_refresh_merchant", rotated, path="/auth")
    after_reuse = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=PORTAL_COOKIE)
    assert_problem(after_reuse, 400, "invalid-grant")

    again = await gateway.post("/auth/token", data={"grant_type": "password", "username": PORTAL_USERNAME,
                                                    "password": PORTAL_PASSWORD}, headers=PORTAL_COOKIE)
    current = set_cookie(again)["odr_refresh_merchant"].value
    signed_out = await gateway.post("/auth/revoke", headers=PORTAL_COOKIE)
    assert signed_out.status_code == 200
    assert set_cookie(signed_out)["odr_refresh_merchant"]["max-age"] == "0"
    gateway.cookies.clear()
    gateway.cookies.set("odr_refresh_merchant", current, path="/auth")
    refused = await gateway.post("/auth/token", data={"grant_type": "refresh_token"}, headers=PORTAL_COOKIE)
    assert_problem(refused, 400, "invalid-grant")


async def test_machine_clients_keep_hour_long_tokens_without_a_session(gateway: httpx.AsyncClient) -> None:
    issued = await gateway.post("/auth/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                     "client_secret": CLIENT_SECRET}, headers=PORTAL_COOKIE)
    assert issued.status_code == 200, issued.text
    assert issued.json()["expires_in"] == 3600
    assert "refresh_token" not in issued.json()
    assert "set-cookie" not in issued.headers


async def test_the_cookie_is_never_used_for_a_cross_site_request(gateway: httpx.AsyncClient) -> None:
    await otp_sign_in(gateway, headers=CONSUMER_COOKIE)
    forged = await gateway.post("/auth/token", data={"grant_type": "refresh_token"},
                                headers={**CONSUMER_COOKIE, "Sec-Fetch-Site": "cross-site"})
    assert_problem(forged, 400, "invalid-request")
    same_origin = await gateway.post("/auth/token", data={"grant_type": "refresh_token"},
                                     headers={**CONSUMER_COOKIE, "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 200, same_origin.text


async def test_the_cookie_is_secure_behind_a_tls_ingress(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, trusted_proxies=["127.0.0.1"])
    async with in_process_gateway(settings) as gateway:
        signed_in = await otp_sign_in(gateway, headers={**CONSUMER_COOKIE, "X-Forwarded-Proto": "https"})
        assert set_cookie(signed_in)["odr_refresh_consumer"]["secure"] is True


async def test_refreshing_is_rate_limited_like_sign_in(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, auth_rate_burst=2, auth_rate_per_minute=1)
    async with in_process_gateway(settings) as gateway:
        form = {"grant_type": "refresh_token", "refresh_token": "ort_unknown"}
        answers = [await gateway.post("/auth/token", data=form) for _ in range(2)]
        assert [answer.status_code for answer in answers] == [400, 400]
        assert_problem(await gateway.post("/auth/token", data=form), 429, "rate-limited")
        assert_problem(await gateway.post("/auth/revoke", data={"token": "x"}), 429, "rate-limited")
