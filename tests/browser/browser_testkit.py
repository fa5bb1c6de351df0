"""What browser tests import besides fixtures: screen sizes and the shapes of the page fixtures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from playwright.async_api import Page

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# open_page(path, *, viewport=DESKTOP, locale="zh-CN", storage_state=None) -> a page at `path` in a fresh browser
# context (or one restored from a saved storage state).
Opener = Callable[..., Awaitable[Page]]
# screen(page, name): axe-core on the page as it is, then a screenshot named `name`.
Screen = Callable[[Page, str], Awaitable[None]]
# file_complaint(facts, *, photo=False) -> the complaint as filed (awaiting the regulator's acceptance), with a
# photo of a receipt as evidence if asked.
ComplaintFiler = Callable[..., Awaitable[dict[str, Any]]]
# file_as_consumer(path, body) -> the 201 answer to the demo consumer's filing at `path`.
ConsumerFiler = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]
