"""The consumer app at /app/ on a phone-sized screen."""

from __future__ import annotations

from playwright.async_api import expect

from browser.browser_testkit import PHONE, Opener, Screen


async def test_the_sign_in_page_renders_in_chinese_and_passes_axe(open_page: Opener, screen: Screen) -> None:
    page = await open_page("/app/", viewport=PHONE)
    await expect(page.get_by_label("手机号")).to_be_visible()
    await expect(page.get_by_role("button", name="登录")).to_be_visible()
    await screen(page, "app-sign-in")
