"""Helpers of the fault tests: bounded waiting, the counts every fault test reports, and an enterprise's webhook
receiver."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from servicekit import infra


async def wait_until(probe: Callable[[], Awaitable[Any] | Any], *, within: float, what: str) -> Any:
    """The probe's first truthy answer (a probe may be a coroutine function or a plain one), or a failed test."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f} s; last: {answer!r}"
        await asyncio.sleep(0.3)


def counts(filed: list[str], listed: list[str]) -> dict[str, int]:
    """What a fault test reports: filed, delivered, duplicates, lost."""
    listed_set = set(listed)
    return {"filed": len(filed), "delivered": len(listed_set & set(filed)),
            "duplicates": len(listed) - len(listed_set), "lost": len(set(filed) - listed_set)}


async def all_listed(listing: Callable[[], Awaitable[list[str]]], filed: list[str]) -> list[str] | None:
    """The listing, once it holds every filed id; None before."""
    listed = await listing()
    return listed if set(filed) <= set(listed) else None


def json_line(what: Mapping[str, float | None]) -> str:
    return json.dumps(what, sort_keys=True)


@dataclass(frozen=True)
class WebhookCall:
    webhook_id: str
    body: dict[str, Any]


class WebhookReceiver:
    """A real HTTP endpoint on a free loopback port, in the test's event loop, answering every POST 204; it keeps
    every call, repeats included (a delivery whose answer went unrecorded is sent again under the same webhook-id)."""

    def __init__(self) -> None:
        self.port = infra.free_port()
        self.calls: list[WebhookCall] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/odr/webhook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.calls.append(WebhookCall(webhook_id=request.headers["webhook-id"], body=body))
        return web.Response(status=204)

    async def start(self) -> WebhookReceiver:
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

    def complaint_ids(self, event_type: str) -> list[str]:
        """The complaint of every distinct delivery of `event_type` (a webhook-id received twice counts once: receivers
        deduplicate on it, Standard Webhooks)."""
        first_calls = {call.webhook_id: call for call in self.calls if call.body["type"] == event_type}
        return [str(call.body["data"]["complaint_id"]) for call in first_calls.values()]

    def repeated_deliveries(self) -> int:
        """Calls that repeated a webhook-id already received."""
        return len(self.calls) - len({call.webhook_id for call in self.calls})
