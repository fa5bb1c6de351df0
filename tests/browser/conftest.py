"""Browser tests: Debian's Chromium driven by Playwright against the real platform, through the gateway only.

One platform (odr_runner.stack.Stack: fresh databases, a broker of its own, every service and the gateway as
processes) and one browser serve the whole session; each test gets a fresh browser context. `screen` checks a
screen the way a reviewer would: axe-core finds no serious or critical violation, and a screenshot is written to
.odr/screenshots/. Every page fails its test if it breaks the Content-Security-Policy or throws.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, StorageState, async_playwright, expect

from browser.browser_testkit import DESKTOP, ComplaintFiler, ConsumerFiler, Opener, Screen
from odr_runner.credentials import StackSecrets
from odr_runner.stack import GATEWAY, Ports, Stack, StackConfig, settled_stack
from servicekit import infra

# Assertions wait up to 15 s instead of 5: on a loaded 2-core machine a sign-in (password hashing behind the
# gateway) or a page of the queue can take longer than 5 s, which is slow but not wrong.
expect.set_options(timeout=15_000)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which this network refuses.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# What blocks a person: axe's two highest impacts. Moderate and minor findings are left to review.
BLOCKING_IMPACTS = {"serious", "critical"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The same goes for the text-message limits on sign-in codes, per number and per address.
LENIENT_SMS_LIMITS = {"ODR_SMS_CODE_INTERVAL_SECONDS": "0", "ODR_SMS_CODES_PER_PHONE_PER_HOUR": "1000",
                      "ODR_SMS_CODES_PER_PHONE_PER_DAY": "1000", "ODR_SMS_CODES_PER_ADDRESS_PER_HOUR": "10000"}


@pytest.fixture(scope="session")
def screenshot_dir(repo_root: Path) -> Path:
    directory = repo_root / ".odr" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def axe_source(repo_root: Path) -> str:
    path = repo_root / "web" / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` installs the web project's packages (npm ci) first")
    return path.read_text()


@pytest.fixture(scope="package")
async def platform(
    database_url: str, db_prefix: str, repo_root: Path, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """The whole platform, once for all browser tests, stopped after the last of them (package scope), so that it
    does not run beside the e2e tests' own platform for the rest of the session."""
    config = StackConfig(
        repo_root=repo_root,
        work_dir=tmp_path_factory.mktemp("browser-stack"),
        secrets=StackSecrets.generate(),
        ports=Ports.free(),
        database_url=database_url,
        kafka_bootstrap=None,
        embedded_kafka_port=infra.free_port(),
        database_prefix=f"{db_prefix}_browser",
        fresh_databases=True,
        environment="dev",
        # Every test signs in from this one address, like a whole office behind one NAT: the per-address sign-in
        # limit is raised so that it counts nothing the tests do not mean it to.
        settings_overrides={"gateway": {"ODR_AUTH_RATE_PER_MINUTE": "6000", "ODR_AUTH_RATE_BURST": "1000"},
                            "complaints": LENIENT_SMS_LIMITS},
    )
    async with settled_stack(config) as stack:
        yield stack


@pytest.fixture(scope="package")
def demo(platform: Stack) -> dict[str, Any]:
    """What `make run` writes to .odr/demo.json, for this platform."""
    return platform.demo_document()


@pytest.fixture(scope="package")
def base_url(platform: Stack) -> str:
    return platform.url(GATEWAY)


@pytest.fixture(scope="package")
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's API, for setting the scene a screen starts from (a consumer's filing, say)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium through apt-get when it runs "
                    "as root; otherwise install the packages chromium and fonts-noto-cjk")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS,
                                                    headless=True)
        try:
            yield launched
        finally:
            await launched.close()


# Collects what the page reports about itself; the init script runs before any of the page's own.
REPORT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI || event.sample}`);
});
"""


@dataclass
class PageProblems:
    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
async def open_page(browser: Browser, base_url: str, screenshot_dir: Path,
                    request: pytest.FixtureRequest) -> AsyncIterator[Opener]:
    """`await open_page("/console/", viewport=DESKTOP)`: a page in a fresh context (nothing stored, unless a
    `storage_state` saved from another context is given: a browser restarted), in Chinese.

    At the end of the test each page is photographed as it was left, and must have broken no CSP rule and
    thrown nothing; HTTP errors the screens handle (a 401 on a wrong password) are not page errors.
    """
    opened: list[tuple[Page, PageProblems]] = []

    async def open_(path: str, *, viewport: dict[str, int] = DESKTOP, locale: str = "zh-CN",
                    storage_state: StorageState | None = None,
                    service_workers: Literal["allow", "block"] = "allow") -> Page:
        # `locale` also sets the browser's Accept-Language; a screen's own header (its chosen language) still wins.
        # Reduced motion: screenshots show charts and dialogs finished, not halfway through an animation.
        context = await browser.new_context(base_url=base_url, viewport=viewport, locale=locale,
                                            reduced_motion="reduce", storage_state=storage_state,
                                            service_workers=service_workers)
        await context.add_init_script(REPORT_VIOLATIONS)
        page = await context.new_page()
        problems = PageProblems()
        page.on("console", problems.console)
        page.on("pageerror", lambda error: problems.errors.append(f"uncaught: {error}"))
        opened.append((page, problems))
        await page.goto(path)
        return page

    yield open_
    name = _file_name(request.node.name)
    failures: list[str] = []
    for index, (page, problems) in enumerate(opened):
        suffix = f"-{index + 1}" if len(opened) > 1 else ""
        await page.screenshot(path=screenshot_dir / f"{name}{suffix}-end.png", full_page=True)
        violations = await page.evaluate("window.__cspViolations")
        failures += [f"CSP violation: {violation}" for violation in violations]
        failures += [error for error in problems.errors if not _handled_http_error(error)]
        await page.context.close()
    assert not failures, "\n".join(failures)


def _handled_http_error(text: str) -> bool:
    # Chromium logs every 4xx/5xx fetch as a console error; the screens show those to the user themselves.
    return text.startswith("Failed to load resource: the server responded with a status of")


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


@pytest.fixture
def screen(axe_source: str, screenshot_dir: Path) -> Screen:
    """`await screen(page, "console-queue")`: a screenshot of the page as it is now, then axe-core and the reflow
    check on it."""

    async def check(page: Page, name: str) -> None:
        await page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)
        if not await page.evaluate("typeof window.axe !== 'undefined'"):
            # Evaluated through the DevTools protocol, so the page's CSP (no inline script) does not stop it.
            await page.evaluate(axe_source)
        result = await page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        blocking = [violation for violation in result["violations"] if violation["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"axe on {name}:\n" + json.dumps(
            [{"id": v["id"], "impact": v["impact"], "help": v["help"],
              "nodes": [node["target"] for node in v["nodes"]][:5]} for v in blocking],
            ensure_ascii=False, indent=1)
        # WCAG 1.4.10 (reflow): nothing pushes the page wider than its viewport, on a phone as on a desk.
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{name} is {widths[0]} px wide in a {widths[1]} px viewport"

    return check


@pytest.fixture(scope="package")
async def regulator_token(api: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    regulator = demo["regulator"]
    response = await api.post("/auth/token", data={"grant_type": "password", "username": regulator["username"],
                                                   "password": regulator["password"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="package")
async def consumer_token(api: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    """A consumer by the OTP grant, with the code the gateway returns in dev mode."""
    otp = await api.post("/auth/otp", json={"phone": demo["consumer_phone"]})
    assert otp.status_code == 202, otp.text
    token = await api.post("/auth/token", data={"grant_type": "otp", "phone": demo["consumer_phone"],
                                                "code": otp.json()["dev_code"]})
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


ENROLMENT_WAIT = 30.0


@pytest.fixture(scope="package")
def file_as_consumer(api: httpx.AsyncClient, consumer_token: str) -> ConsumerFiler:
    """`await file_as_consumer(path, body)`: the consumer's filing, answered 201.

    The demo enterprises reach the complaints service as events after the seed; under load they may arrive after
    the platform reports itself settled, and until then a filing against them is refused as an unknown merchant.
    """

    async def file(path: str, body: dict[str, Any]) -> httpx.Response:
        deadline = time.monotonic() + ENROLMENT_WAIT
        while True:
            response = await api.post(path, json=body, headers={"Authorization": f"Bearer {consumer_token}"})
            unknown = response.status_code == 422 and any(
                error.get("code") == "unknown_merchant" for error in response.json().get("errors", []))
            if not unknown or time.monotonic() > deadline:
                assert response.status_code == 201, response.text
                return response
            await asyncio.sleep(0.5)

    return file


@pytest.fixture(scope="package")
def file_complaint(api: httpx.AsyncClient, demo: dict[str, Any], consumer_token: str,
                   file_as_consumer: ConsumerFiler) -> ComplaintFiler:
    """Files a complaint against demo enterprise A outside the green channel, so it awaits the regulator."""

    async def file(facts: str, *, photo: bool = False) -> dict[str, Any]:
        evidence_ids = []
        if photo:
            uploaded = await api.post("/v1/consumer/evidence", params={"filename": "receipt.png"}, content=png(),
                                      headers={"Authorization": f"Bearer {consumer_token}",
                                               "Content-Type": "application/octet-stream"})
            assert uploaded.status_code == 201, uploaded.text
            evidence_ids.append(uploaded.json()["id"])
        purchased = (datetime.now(SHANGHAI) - timedelta(days=3)).date().isoformat()
        body = {
            "kind": "complaint",
            "green_channel": False,
            "complainant": {"name": "王芳", "phone": demo["consumer_phone"], "address": "青海省格尔木市昆仑中路12号"},
            "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
            "request": {"type": "refund", "amount_fen": 29900},
            "facts": facts,
            "purchase": {"date": purchased, "amount_fen": 29900, "order_no": "JD2026112000123"},
            "sector": "online_shopping",
            "category": "food.local_specialty",
            "channel": "app",
            "evidence_ids": evidence_ids,
        }
        response = await file_as_consumer("/v1/consumer/complaints", body)
        filed: dict[str, Any] = response.json()
        assert filed["status"] == "pending_acceptance", filed["status"]
        return filed

    return file


def png(width: int = 120, height: int = 80) -> bytes:
    """A small PNG (a red band on white, like a stamped receipt) for evidence, built without an image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + (b"\xc8\x10\x2e" if height // 3 <= y < 2 * height // 3 else b"\xff\xff\xff") * width
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
