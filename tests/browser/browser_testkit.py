"""What browser tests import besides fixtures: screen sizes and the shapes of the page fixtures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page, expect

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# A tablet held upright, as at a service desk.
TABLET = {"width": 768, "height": 1024}

# open_page(path, *, viewport=DESKTOP, locale="zh-CN", storage_state=None, service_workers="allow") -> a page at `path`
# in a fresh browser context (or one restored from a saved storage state).
Opener = Callable[..., Awaitable[Page]]
# screen(page, name): axe-core on the page as it is, then a screenshot named `name`.
Screen = Callable[[Page, str], Awaitable[None]]
# file_complaint(facts, *, photo=False) -> the complaint as filed (awaiting the regulator's acceptance), with a
# photo of a receipt as evidence if asked.
ComplaintFiler = Callable[..., Awaitable[dict[str, Any]]]
# file_as_consumer(path, body) -> the 201 answer to the demo consumer's filing at `path`.
ConsumerFiler = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]


async def sign_in(open_page: Opener, demo: dict[str, Any], screen: Screen | None = None,
                  path: str = "/console/", account: dict[str, Any] | None = None) -> Page:
    """Opens the console, which asks for the staff account (the demo regulator's unless another is given), and
    signs in by pressing Enter in the password."""
    account = account or demo["regulator"]
    page = await open_page(path)
    await expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    if screen is not None:
        await screen(page, "console-sign-in")
    await page.get_by_label("用户名").fill(account["username"])
    await page.get_by_label("密码", exact=True).fill(account["password"])
    await page.get_by_label("密码", exact=True).press("Enter")
    return page
