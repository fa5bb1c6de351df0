"""Sessions in the browser: the consumer app stays signed in across new tabs, a browser restart and a lapsed access
token, the console renews its token silently, and signing out ends the session for good."""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from typing import Any

from playwright.async_api import Page, Response, expect

from browser.browser_testkit import PHONE, Opener, Screen
from odr_runner.stack import Stack
from servicekit.auth import Audience, Role, TokenIssuer

THIRTY_DAYS = 30 * 24 * 3600


def lapsed_token(platform: Stack, claims: dict[str, Any]) -> str:
    """A token the gateway really refuses: signed with the platform's key, expired a minute ago."""
    issuer = TokenIssuer(platform.config.secrets.jwt_private_key, "odr-gateway")
    audience = Audience(claims["aud"])
    return issuer.issue(sub=claims["sub"], aud=audience, roles=[Role(role) for role in claims["roles"]],
                        ttl=timedelta(minutes=-1), region=claims.get("region"))


async def claims_of(page: Page, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = await page.evaluate(
        "(t) => JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))", token)
    return claims


def revoked(response: Response) -> bool:
    return response.url.endswith("/auth/revoke") and response.status == 200


def list_loaded(response: Response) -> bool:
    return "/v1/consumer/complaints?" in response.url and response.status == 200


async def stored_session(page: Page) -> dict[str, Any]:
    stored: dict[str, Any] = await page.evaluate("JSON.parse(localStorage.getItem('odr.session'))")
    return stored


async def test_the_app_stays_signed_in_across_tabs_a_restart_and_a_lapsed_token_until_signed_out(
        open_page: Opener, platform: Stack, screen: Screen) -> None:
    phone = f"135{secrets.randbelow(10**8):08d}"
    page = await open_page("/app/", viewport=PHONE)
    await page.get_by_label("手机号").fill(phone)
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.get_by_label("验证码")).to_have_value(re.compile(r"^\d{6}$"))
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_text("您还没有提交过投诉。")).to_be_visible()

    # Only the access token is within the page's reach; the refresh token is an HttpOnly cookie for /auth.
    stored = await stored_session(page)
    assert set(stored) == {"token", "phone", "expiresAt"}
    assert "odr_refresh" not in await page.evaluate("document.cookie")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "odr_refresh_consumer")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/auth")
    assert cookie["expires"] > time.time() + THIRTY_DAYS - 3600

    second = await page.context.new_page()
    async with second.expect_response(list_loaded):
        await second.goto("/app/#/complaints")
    await expect(second.get_by_text("您还没有提交过投诉。")).to_be_visible()
    await second.close()

    # The browser is closed and opened again: what it had stored is all that is left.
    saved = await page.context.storage_state()
    restarted = await open_page("/app/#/complaints", viewport=PHONE, storage_state=saved)
    await expect(restarted.get_by_text("您还没有提交过投诉。")).to_be_visible()
    claims = await claims_of(restarted, stored["token"])

    # The access token lapsed while the app was closed: renewed before the first call.
    lapsed = lapsed_token(platform, claims)
    await restarted.evaluate("(s) => localStorage.setItem('odr.session', JSON.stringify(s))",
                             {"token": lapsed, "phone": phone, "expiresAt": int(time.time() * 1000) - 1000})
    async with restarted.expect_response(list_loaded):
        await restarted.reload()
    renewed = await stored_session(restarted)
    assert renewed["token"] != lapsed
    assert renewed["phone"] == phone
    assert renewed["expiresAt"] > time.time() * 1000 + 14 * 60 * 1000

    # The gateway refuses a token the app still thought good: renewed on the 401 and the call made again.
    await restarted.evaluate("(s) => localStorage.setItem('odr.session', JSON.stringify(s))",
                             {"token": lapsed, "phone": phone, "expiresAt": int(time.time() * 1000) + 600_000})
    async with restarted.expect_response(list_loaded):
        await restarted.reload()
    await expect(restarted.get_by_text("您还没有提交过投诉。")).to_be_visible()
    assert (await stored_session(restarted))["token"] != lapsed
    await screen(restarted, "app-signed-in-after-restart")

    async with restarted.expect_response(revoked):
        await restarted.get_by_role("button", name="退出").click()
    await expect(restarted.get_by_role("heading", name="手机号登录")).to_be_visible()
    assert await restarted.evaluate("localStorage.getItem('odr.session')") is None
    assert not [c for c in await restarted.context.cookies() if c["name"] == "odr_refresh_consumer"]

    # A copy of the cookie taken before signing out is worth nothing: the session was revoked at the gateway.
    stolen = await open_page("/app/#/more", viewport=PHONE, storage_state=saved)
    status = await stolen.evaluate("""() => fetch('/auth/token', {method: 'POST', credentials: 'same-origin',
        headers: {'X-Session-Cookie': 'consumer'}, body: new URLSearchParams({grant_type: 'refresh_token'})})
        .then((answer) => answer.status)""")
    assert status == 400


def queue_loaded(response: Response) -> bool:
    return "/v1/regulator/complaints" in response.url and response.status == 200


async def test_the_console_renews_its_token_silently_signs_in_new_tabs_and_signs_out(
        open_page: Opener, platform: Stack, demo: dict[str, Any]) -> None:
    page = await open_page("/console/")
    await page.get_by_label("用户名").fill(demo["regulator"]["username"])
    await page.get_by_label("密码", exact=True).fill(demo["regulator"]["password"])
    async with page.expect_response(queue_loaded):
        await page.get_by_label("密码", exact=True).press("Enter")
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()

    stored: dict[str, Any] = await page.evaluate("JSON.parse(sessionStorage.getItem('odr.console.session'))")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "odr_refresh_regulator")
    # A session cookie: a shared office computer signs out when the browser closes.
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["expires"]) == (True, "Strict", "/auth", -1)
    assert stored["expiresAt"] - time.time() * 1000 <= 15 * 60 * 1000

    lapsed = lapsed_token(platform, await claims_of(page, stored["token"]))
    await page.evaluate("(s) => sessionStorage.setItem('odr.console.session', JSON.stringify(s))",
                        {**stored, "token": lapsed})
    async with page.expect_response(queue_loaded):
        await page.reload()
    await expect(page.get_by_role("heading", name="待办案件")).to_be_visible()
    renewed: dict[str, Any] = await page.evaluate("JSON.parse(sessionStorage.getItem('odr.console.session'))")
    assert renewed["token"] not in (lapsed, stored["token"])

    second = await page.context.new_page()
    async with second.expect_response(queue_loaded):
        await second.goto("/console/#/queue")
    await expect(second.get_by_role("heading", name="待办案件")).to_be_visible()
    await second.close()

    async with page.expect_response(revoked):
        await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    assert not [c for c in await page.context.cookies() if c["name"] == "odr_refresh_regulator"]
    third = await page.context.new_page()
    await third.goto("/console/#/queue")
    await expect(third.get_by_role("heading", name="工作人员登录")).to_be_visible()
    await third.close()
