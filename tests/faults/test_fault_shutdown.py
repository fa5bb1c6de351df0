"""Issue 16, item 6: SIGTERM to a real service process: it stops accepting, finishes the requests in flight, flushes
its relay, commits its consumers' offsets and exits within 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from faults.conftest import ComplaintBody
from faults.faultkit import json_line, wait_until
from odr_runner.stack import Stack
from servicekit.db import asyncpg_dsn


async def test_sigterm_finishes_requests_flushes_the_relay_commits_offsets_and_exits_within_10_s(
    fault_stack: Stack, client: httpx.AsyncClient, consumer_headers: dict[str, str], complaint_body: ComplaintBody,
) -> None:
    process = fault_stack.processes["complaints"].process
    log_start = fault_stack.log_path("complaints").stat().st_size
    service = fault_stack.url("complaints")
    payload = json.dumps(complaint_body("停机时仍在上传的投诉")).encode()
    rest_may_come = asyncio.Event()

    async def slow_upload() -> AsyncIterator[bytes]:
        # The request has begun in the service (head read, handler waiting for the body) when SIGTERM comes.
        yield payload[:100]
        await rest_may_come.wait()
        yield payload[100:]

    async with httpx.AsyncClient(timeout=20) as direct:
        headers = {**consumer_headers, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json",
                   "Content-Length": str(len(payload))}
        in_flight = asyncio.create_task(direct.post(f"{service}/v1/consumer/complaints", content=slow_upload(),
                                                    headers=headers))
        await asyncio.sleep(0.5)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        with pytest.raises(httpx.ConnectError):
            await direct.get(f"{service}/readyz")
        rest_may_come.set()
        finished = await in_flight
        try:
            returncode = await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired as error:
            raise AssertionError("the service did not exit within 15 s of SIGTERM") from error
    took = time.monotonic() - began
    # Read before the supervisor's restart (seconds away) brings a new relay.
    connection = await asyncpg.connect(asyncpg_dsn(fault_stack.database_url,
                                                   fault_stack.config.database_name("complaints")))
    try:
        unpublished = await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    finally:
        await connection.close()
    print(json_line({"exit_seconds": round(took, 1), "in_flight_status": finished.status_code,
                     "unpublished_after_exit": unpublished}))

    assert finished.status_code == 201, finished.text
    assert took < 10, f"took {took:.1f} s to exit"
    # uvicorn re-raises the signal it handled once it has shut down cleanly, so a clean exit reads as -SIGTERM.
    assert returncode in (0, -signal.SIGTERM), returncode
    assert unpublished == 0, "the relay did not flush what the finished request committed"
    log = fault_stack.log_path("complaints").read_bytes()[log_start:].decode(errors="replace")
    assert "outbox flushed; relay stopping" in log
    assert log.count("consumer stopping; offsets committed") == 2, "both consumers commit and leave"
    assert "did not finish within the shutdown grace" not in log

    async def back() -> bool:
        answer = await client.get(f"{service}/readyz")
        return answer.status_code == 200

    await wait_until(_swallowing(back), within=40, what="the supervisor bringing complaints back")


def _swallowing(probe: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """The probe, with a refused connection (the process not listening yet) counted as "not yet"."""

    async def tolerant() -> bool:
        try:
            return bool(await probe())
        except httpx.HTTPError:
            return False

    return tolerant
