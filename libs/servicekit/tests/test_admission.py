"""Admission control: a service runs at most its limit of requests at once, lets a few wait briefly, and answers the
rest 503 `at-capacity` at once; health, metrics, internal calls and event streams are never held back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import Column, Integer, MetaData, Table

from servicekit.admission import AdmissionGate, AtCapacity
from servicekit.app import create_service_app
from servicekit.settings import ServiceSettings

OUTBOX = Table("admission_probe_outbox", MetaData(), Column("seq", Integer, primary_key=True))


class Held:
    """Requests to /held and /internal/held wait until released, so a test decides how many run at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    def router(self) -> APIRouter:
        router = APIRouter()

        async def wait() -> dict[str, int]:
            self.entered += 1
            await self.release.wait()
            return {"entered": self.entered}

        router.add_api_route("/held", wait, methods=["GET"], name="held")
        router.add_api_route("/internal/held", wait, methods=["GET"], name="internal_held")

        @router.get("/cases/{case_id}/stream")
        async def stream(case_id: str) -> StreamingResponse:
            async def events() -> AsyncIterator[bytes]:
                yield f"data: {case_id}\n\n".encode()

            return StreamingResponse(events(), media_type="text/event-stream")

        return router


@asynccontextmanager
async def service(database_url: str, held: Held, **admission: float) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(service_name="admission-probe", database_url=database_url, database_name="postgres",
                               **admission)
    app = create_service_app(settings=settings, title="probe", description="probe", routers=[held.router()],
                             outbox_table=OUTBOX)
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                        base_url="http://probe") as client:
        yield client


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_beyond_its_limit_and_line_a_service_answers_at_capacity_at_once(database_url: str) -> None:
    held = Held()
    async with service(database_url, held, admission_limit=2, admission_queue=1, admission_wait_seconds=5.0,
                       admission_retry_after_seconds=4) as client:
        running = [asyncio.create_task(client.get("/held")) for _ in range(2)]
        await until(lambda: held.entered == 2)
        waiting = asyncio.create_task(client.get("/held"))
        await asyncio.sleep(0.05)

        started = time.monotonic()
        refused = await client.get("/held", headers={"Accept-Language": "zh-CN"})
        assert time.monotonic() - started < 0.5
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "4"
        assert refused.headers["x-request-id"], "a refusal carries its request id like any answer"
        assert refused.json() == {"type": "/problems/at-capacity", "title": "服务繁忙，请稍后重试", "status": 503,
                                  "instance": "/held"}
        assert held.entered == 2, "the refused request never reached its handler"

        for path in ("/healthz", "/metrics", "/internal/held", "/cases/c-1/stream"):
            if path == "/internal/held":
                internal = asyncio.create_task(client.get(path))
                await until(lambda: held.entered == 3)
                continue
            assert (await client.get(path)).status_code == 200, f"{path} is never held back"

        held.release.set()
        answers = await asyncio.gather(*running, waiting, internal)
        assert [answer.status_code for answer in answers] == [200, 200, 200, 200], "the one in line got its place"
        assert (await client.get("/held")).status_code == 200


async def test_a_request_that_waits_longer_than_allowed_is_refused(database_url: str) -> None:
    held = Held()
    async with service(database_url, held, admission_limit=1, admission_queue=10,
                       admission_wait_seconds=0.2) as client:
        running = asyncio.create_task(client.get("/held"))
        await until(lambda: held.entered == 1)
        started = time.monotonic()
        refused = await client.get("/held")
        waited = time.monotonic() - started
        assert refused.status_code == 503
        assert refused.json()["type"] == "/problems/at-capacity"
        assert 0.15 <= waited < 1.0, waited
        held.release.set()
        assert (await running).status_code == 200


async def test_a_place_comes_back_when_its_holder_fails_or_a_waiter_gives_up() -> None:
    gate = AdmissionGate("probe", limit=1, queue_limit=1, wait_seconds=5.0)
    with pytest.raises(RuntimeError):
        async with gate.admitted():
            raise RuntimeError("the handler failed")
    assert gate.running == 0

    async with gate.admitted():
        waiter = asyncio.create_task(gate.enter())
        await until(lambda: gate.waiting == 1)
        with pytest.raises(AtCapacity):
            await gate.enter()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gate.waiting == 0
    async with gate.admitted():
        assert gate.running == 1
    assert gate.running == 0
    assert gate.waiting == 0


async def test_waiters_get_their_places_in_arrival_order() -> None:
    gate = AdmissionGate("order", limit=1, queue_limit=10, wait_seconds=5.0)
    order: list[int] = []

    async def take(number: int) -> None:
        async with gate.admitted():
            order.append(number)
            await asyncio.sleep(0.01)

    async with gate.admitted():
        tasks = []
        for number in range(5):
            tasks.append(asyncio.create_task(take(number)))
            await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
