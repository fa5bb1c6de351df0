"""Admission control: a process takes on only the requests it can answer soon and refuses the rest at once.

Without it an overloaded service accepts every connection and lets the requests queue for the database pool: each
waits seconds, its client gives up and retries, and the retries join the queue, so the service stays saturated doing
work nobody waits for any more (the soak of issue 16 showed this after a restart under load). With it, at most
`limit` requests run at once, at most `queue_limit` more wait for a place, each for at most `wait_seconds`; any
other request is answered 503 `at-capacity` with `Retry-After` in well under a millisecond, and the ones taken are
answered at the speed the service has.

The same gate serves a service's own requests (`AdmissionMiddleware`) and the gateway's traffic to each upstream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.problems import PROBLEM_CONTENT_TYPE, problem_body

ADMITTED_RUNNING = Gauge("odr_admission_running", "Requests running under an admission gate", ["gate"])
ADMISSION_WAITING = Gauge("odr_admission_waiting", "Requests waiting for a place under an admission gate", ["gate"])
ADMISSION_REFUSED = Counter("odr_admission_refused_total", "Requests refused at once because a gate was full",
                            ["gate", "reason"])

# Paths no gate holds back: health and metrics must answer while the service is busy (a refused readiness check
# would take a busy instance out of rotation and make the rest busier), long-lived event streams would hold a place
# for as long as someone listens, and the platform's internal calls (sign-in codes, credential checks, case feeds)
# are few and are what keeps people signed in while their filings are being shed.
UNGATED_PREFIXES = ("/healthz", "/readyz", "/metrics", "/internal/")


class AtCapacity(Exception):
    """The gate is full: refuse the request now rather than make it wait."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdmissionGate:
    """At most `limit` holders at once; up to `queue_limit` more wait in arrival order, each at most `wait_seconds`."""

    def __init__(self, name: str, *, limit: int, queue_limit: int, wait_seconds: float) -> None:
        if limit < 1 or queue_limit < 0 or wait_seconds < 0:
            raise ValueError("an admission gate needs limit >= 1, queue_limit >= 0 and wait_seconds >= 0")
        self.name = name
        self.limit = limit
        self.queue_limit = queue_limit
        self.wait_seconds = wait_seconds
        self._places = asyncio.Semaphore(limit)
        self._waiting = 0
        self._running = 0
        # The gate's own gauges, looked up once: `labels()` takes a lock and builds a key on every call.
        self._running_gauge = ADMITTED_RUNNING.labels(name)
        self._waiting_gauge = ADMISSION_WAITING.labels(name)
        self._running_gauge.set(0)
        self._waiting_gauge.set(0)

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold a place for the body of the `async with`; `AtCapacity` when none is free soon enough."""
        await self.enter()
        try:
            yield
        finally:
            self.leave()

    async def enter(self) -> None:
        """Take a place, waiting in line if that is allowed; `AtCapacity` when none is free soon enough."""
        if self._places.locked():
            if self._waiting >= self.queue_limit:
                ADMISSION_REFUSED.labels(self.name, "queue-full").inc()
                raise AtCapacity("queue-full")
            self._waiting += 1
            self._waiting_gauge.inc()
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await self._places.acquire()
            except TimeoutError:
                ADMISSION_REFUSED.labels(self.name, "waited-too-long").inc()
                raise AtCapacity("waited-too-long") from None
            finally:
                self._waiting -= 1
                self._waiting_gauge.dec()
        else:
            await self._places.acquire()
        self._running += 1
        self._running_gauge.inc()

    def leave(self) -> None:
        self._running -= 1
        self._running_gauge.dec()
        self._places.release()


class AdmissionMiddleware:
    """Runs every HTTP request but the ungated ones under the service's gate; refused ones get the 503 problem."""

    def __init__(self, app: ASGIApp, gate: AdmissionGate, retry_after_seconds: int) -> None:
        self.app = app
        self.gate = gate
        self.retry_after = str(retry_after_seconds).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _ungated(scope):
            await self.app(scope, receive, send)
            return
        try:
            await self.gate.enter()
        except AtCapacity:
            await _refuse(scope, send, self.retry_after)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()


def _ungated(scope: Scope) -> bool:
    path: str = scope["path"]
    if path.startswith(UNGATED_PREFIXES) or path.endswith("/stream"):
        return True
    return any(name == b"accept" and b"text/event-stream" in value for name, value in scope["headers"])


async def _refuse(scope: Scope, send: Send, retry_after: bytes) -> None:
    accept_language = next((value.decode("latin-1") for name, value in scope["headers"]
                            if name == b"accept-language"), None)
    body = json.dumps(problem_body("at-capacity", 503, accept_language=accept_language,
                                   instance=scope["path"]), ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", retry_after),
    ]})
    await send({"type": "http.response.body", "body": body})
