"""Helpers shared by the merchants tests (a unique module name: every service's test folder is on sys.path)."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from merchants.credentials.service import IssuedClient
from merchants.enrollment.service import Actor
from merchants.registry.service import MerchantDetails
from merchants.registry.uscc import ALPHABET, check_character
from servicekit.infra import free_port

INTERNAL_TOKEN = "test-internal-token"
REVIEWER = Actor(role="regulator", id="reg-test")
VERIFY = "/internal/v1/credentials/verify"
WEBHOOK_DISABLE_AFTER = 6
WEBHOOK_POLL_INTERVAL = 5.0

ApproveMerchant = Callable[[], Awaitable[IssuedClient]]


def random_uscc() -> str:
    """A valid code for a new Golmud company (the algorithm itself is checked in test_merchants_uscc)."""
    body = "91632801" + "".join(secrets.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def merchant_details(name: str = "格尔木测试商贸有限公司") -> MerchantDetails:
    return MerchantDetails(name=name, uscc=random_uscc(), region_code="632801", address="青海省格尔木市河西路1号",
                           sector="retail")


def internal_headers() -> dict[str, str]:
    return {"X-Internal-Token": INTERNAL_TOKEN}


# Smallest well-formed files of each accepted type (only the signature matters to the service).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def random_address() -> str:
    """A fresh client address per test, so the per-address rate limit of one test never hits another."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def application_body(uscc: str | None = None, *, licence: bytes = PDF, region_code: str = "632801",
                     **overrides: Any) -> dict[str, Any]:
    """A complete, valid ODR application."""
    return {
        "name": "格尔木枸杞专营有限公司",
        "uscc": uscc or random_uscc(),
        "region_code": region_code,
        "address": "青海省格尔木市昆仑中路88号",
        "operating_address": "青海省格尔木市河西市场A区12号",
        "sector": "retail",
        "online_stores": [{"platform": "taobao", "store_id": secrets.token_hex(6)}],
        "contact": {"name": "李明", "phone": "13997001234"},
        "undertaking_accepted": True,
        "business_licence": {"filename": "licence.pdf", "content_base64": base64.b64encode(licence).decode()},
        "criteria": {
            "handling_place": "昆仑中路88号二楼客服中心",
            "complaint_staff_count": 2,
            "complaint_phone": "0979-8412345",
            "networked_computer": True,
            "handling_procedures": "收到投诉后1个工作日内联系消费者，5个工作日内提出处理方案并记录归档。",
            "cooperates_with_regulators": True,
        },
        **overrides,
    }


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP webhook receiver on a free loopback port, in the test's event loop; can fail or go away."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.answer_status = 204
        self.delay = 0.0  # seconds each answer takes, as a slow enterprise's would
        self.in_flight = 0
        self.peak_in_flight = 0
        # The client ends of the connections the deliveries came over.
        self.peers: set[tuple[str, int]] = set()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/odr/webhook"

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            self.received.append(Received(headers=dict(request.headers), body=await request.read()))
            if request.transport is not None:
                self.peers.add(request.transport.get_extra_info("peername"))
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return web.Response(status=self.answer_status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/odr/webhook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, interval: float = 0.05) -> None:
    """Wait until `check` holds; generous limits, since other test sessions share the machine."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(interval)
