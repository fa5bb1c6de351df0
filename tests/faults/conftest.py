"""A platform of the fault tests' own: embedded PostgreSQL (so it can be killed), its own broker, the three services
and the gateway as real processes, kept alive by the runner's supervisor exactly as `make run` keeps them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from odr_runner.credentials import StackSecrets
from odr_runner.stack import GATEWAY, Ports, Stack, StackConfig, settled_stack
from odr_runner.supervisor import RestartPolicy, Supervisor
from servicekit import infra

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Restarts come quickly in tests; giving up still needs five crashes within a minute.
FAST_RESTARTS = RestartPolicy(backoff_base=0.2, backoff_max=2.0)


class SupervisedStack:
    """The stack, its supervisor running in the background, and what the supervisor said."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.messages: list[str] = []
        self.supervisor = Supervisor(stack, policy=FAST_RESTARTS, report=self.messages.append)


@pytest.fixture(scope="session")
async def supervised(db_prefix: str, repo_root: Path) -> AsyncIterator[SupervisedStack]:
    # Not under pytest's basetemp: other sessions on the machine prune old basetemps, and this one holds a live
    # PostgreSQL data directory.
    work_dir = Path(tempfile.mkdtemp(prefix="odr-faults-"))
    config = StackConfig(
        repo_root=repo_root,
        work_dir=work_dir,
        secrets=StackSecrets.generate(),
        ports=Ports.free(),
        database_url=None,
        kafka_bootstrap=None,
        embedded_pg_port=infra.free_port(),
        embedded_kafka_port=infra.free_port(),
        database_prefix=f"{db_prefix}_faults",
        fresh_databases=True,
        environment="dev",
        # The enterprise's webhook goes to a receiver in the test, on loopback, which production refuses.
        settings_overrides={"merchants": {"ODR_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}},
    )
    try:
        async with settled_stack(config) as stack:
            supervised = SupervisedStack(stack)
            stop = asyncio.Event()
            running = asyncio.create_task(supervised.supervisor.run(stop))
            try:
                yield supervised
            finally:
                stop.set()
                await running
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_stack(supervised: SupervisedStack) -> Stack:
    return supervised.stack


@pytest.fixture(scope="session")
async def client(fault_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fault_stack.url(GATEWAY), timeout=15.0) as client:
        yield client


SignIn = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def consumer_sign_in(client: httpx.AsyncClient) -> SignIn:
    """Headers of a consumer signed in by phone (dev one-time code). The gateway limits /auth/* per address, and
    the fault tests sign in several: a 429 is waited out as its Retry-After says."""

    async def auth(path: str, **request: Any) -> httpx.Response:
        for _ in range(30):
            answer = await client.post(path, **request)
            if answer.status_code != 429:
                return answer
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
        return answer

    async def sign_in(phone: str) -> dict[str, str]:
        otp = await auth("/auth/otp", json={"phone": phone})
        assert otp.status_code == 202, otp.text
        token = await auth("/auth/token", data={"grant_type": "otp", "phone": phone, "code": otp.json()["dev_code"]})
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    return sign_in


@pytest.fixture(scope="session")
async def consumer_headers(consumer_sign_in: SignIn, fault_stack: Stack) -> dict[str, str]:
    return await consumer_sign_in(fault_stack.demo_document()["consumer_phone"])


@pytest.fixture(scope="session")
async def merchant_headers(client: httpx.AsyncClient, fault_stack: Stack) -> dict[str, str]:
    merchant = fault_stack.demo_document()["merchants"][0]
    form = {"grant_type": "client_credentials", "client_id": merchant["client_id"],
            "client_secret": merchant["client_secret"]}
    # The secret's scrypt check can outlast the gateway's 3 s budget on a machine this busy: 504, then try again.
    for _ in range(20):
        token = await client.post("/auth/token", data=form)
        if token.status_code != 504:
            break
        await asyncio.sleep(0.5)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


ComplaintBody = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="session")
def complaint_body(fault_stack: Stack) -> ComplaintBody:
    """A green-channel complaint against demo enterprise A: it goes straight to the enterprise's case list."""
    merchant_id = fault_stack.demo_document()["merchants"][0]["merchant_id"]
    phone = fault_stack.demo_document()["consumer_phone"]

    def body(facts: str) -> dict[str, Any]:
        purchased = (datetime.now(SHANGHAI) - timedelta(days=3)).date().isoformat()
        return {"kind": "complaint", "green_channel": True,
                "complainant": {"name": "王芳", "phone": phone, "address": "青海省格尔木市昆仑中路12号"},
                "respondent": {"merchant_id": merchant_id}, "request": {"type": "refund", "amount_fen": 9900},
                "facts": facts, "purchase": {"date": purchased, "amount_fen": 9900, "order_no": "JD1"},
                "sector": "online_shopping", "category": "food.local_specialty", "channel": "app"}

    return body


FileComplaint = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
def file_complaint(client: httpx.AsyncClient, consumer_headers: dict[str, str],
                   complaint_body: ComplaintBody) -> FileComplaint:
    """File one complaint (as the demo consumer unless `consumer` names another's headers), retrying with the same
    Idempotency-Key while the platform answers 503 (an outage); returns its id. Anything but 201 or 503 fails the test,
    so a 500 during an outage is caught."""

    async def file(facts: str, *, within: float = 60.0, statuses: list[int] | None = None,
                   consumer: dict[str, str] | None = None) -> str:
        headers = {**(consumer or consumer_headers), "Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + within
        while True:
            try:
                response = await client.post("/v1/consumer/complaints", json=complaint_body(facts), headers=headers)
            except httpx.TimeoutException as error:
                raise AssertionError(f"filing hung beyond the client's timeout: {error!r}") from error
            if statuses is not None:
                statuses.append(response.status_code)
            if response.status_code == 201:
                return str(response.json()["id"])
            assert_retryable_unavailable(response)
            assert time.monotonic() < deadline, f"still 503 after {within:.0f} s"
            await asyncio.sleep(0.3)

    return file


def assert_retryable_unavailable(response: httpx.Response) -> None:
    """The only failure an outage may answer: 503, problem+json, with a Retry-After."""
    assert response.status_code == 503, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert int(response.headers["retry-after"]) > 0


CaseIds = Callable[[], Awaitable[list[str]]]


@pytest.fixture(scope="session")
def merchant_case_complaint_ids(client: httpx.AsyncClient, merchant_headers: dict[str, str]) -> CaseIds:
    """Every complaint id on demo enterprise A's case list, all pages, duplicates kept (so they can be counted)."""

    async def ids() -> list[str]:
        found: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            response = await client.get("/v1/merchant/cases", params=params, headers=merchant_headers)
            if response.status_code != 200:
                return [*found, "<unavailable>"]
            page = response.json()
            found += [item["complaint_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    return ids
