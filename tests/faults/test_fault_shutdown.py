"""Issue 16, item 6: SIGTERM to a real service process: it stops accepting, finishes the requests in flight, flushes
its relay, commits its consumers' offsets and exits within 10 s."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from faults.conftest import ComplaintBody
from faults.faultkit import json_line, wait_until
from odr_runner.stack import Stack
from servicekit.db import asyncpg_dsn


async def test_sigterm_finishes_requests_flushes_the_relay_commits_offsets_and_exits_within_10_s(
    fault_stack: Stack, client: httpx.AsyncClient, consumer_headers: dict[str, str], complaint_body: ComplaintBody,
) -> None:
    process = fault_stack.processes["complaints"].process
    log_start = fault_stack.log_path("complaints").stat().st_size

    async def file(number: int) -> int:
        headers = {**consumer_headers, "Idempotency-Key": str(uuid.uuid4())}
        response = await client.post("/v1/consumer/complaints", json=complaint_body(f"停机时的投诉 {number}"),
                                     headers=headers)
        return response.status_code

    filings = [asyncio.create_task(file(number)) for number in range(8)]
    await asyncio.sleep(0.05)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
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
    statuses = await asyncio.gather(*filings)
    print(json_line({"exit_seconds": round(took, 1), "answered_201": statuses.count(201),
                     "answered_503": statuses.count(503), "unpublished_after_exit": unpublished}))

    assert took < 10, f"took {took:.1f} s to exit"
    # uvicorn re-raises the signal it handled once it has shut down cleanly, so a clean exit reads as -SIGTERM.
    assert returncode in (0, -signal.SIGTERM), returncode
    assert set(statuses) <= {201, 503}, f"a request in flight was cut off: {statuses}"
    assert statuses.count(201) >= 1
    assert unpublished == 0, "the relay did not flush what the finished requests committed"
    log = fault_stack.log_path("complaints").read_bytes()[log_start:].decode(errors="replace")
    assert "outbox flushed; relay stopping" in log
    assert log.count("consumer stopping; offsets committed") == 2, "both consumers commit and leave"
    assert "did not finish within the shutdown grace" not in log

    async def back() -> bool:
        answer = await client.get(f"{fault_stack.url('complaints')}/readyz")
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
