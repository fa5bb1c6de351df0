"""The whole platform as real processes (uvicorn) behind the gateway, started once per test session."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from otlp_collector import TraceCollector

from odr_runner.credentials import StackSecrets
from odr_runner.stack import GATEWAY, Ports, Stack, StackConfig, settled_stack
from servicekit import infra
from servicekit.db import asyncpg_dsn

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATS_FOLD_WAIT = 15.0

# The tests' webhook receiver listens on 127.0.0.1, which only an allow-list lets merchants call; retries come
# within a second or two instead of after 30 s. Only this address: other loopback ones stay refused.
E2E_MERCHANTS_SETTINGS = {
    "ODR_WEBHOOK_ALLOWED_NETWORKS": json.dumps(["127.0.0.1/32"]),
    "ODR_WEBHOOK_POLL_INTERVAL": "0.2",
    "ODR_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
    "ODR_WEBHOOK_BACKOFF_MAX_SECONDS": "1.5",
    "ODR_WEBHOOK_TIMEOUT_SECONDS": "3",
}

# Every sign-in of the suite comes from one address (the authorization matrix alone signs in a dozen principals), many
# of them for the demo number: the per-address and per-number limits would refuse them.
E2E_SETTINGS = {
    "merchants": E2E_MERCHANTS_SETTINGS,
    "complaints": {
        "ODR_SMS_CODE_INTERVAL_SECONDS": "0",
        "ODR_SMS_CODES_PER_PHONE_PER_HOUR": "1000",
        "ODR_SMS_CODES_PER_PHONE_PER_DAY": "1000",
        "ODR_SMS_CODES_PER_ADDRESS_PER_HOUR": "10000",
    },
    GATEWAY: {"ODR_AUTH_RATE_PER_MINUTE": "6000", "ODR_AUTH_RATE_BURST": "1000"},
}


@pytest.fixture(scope="session")
async def trace_collector() -> AsyncIterator[TraceCollector]:
    collector = TraceCollector()
    await collector.start()
    yield collector
    await collector.stop()


@pytest.fixture(scope="session")
def e2e_started_at() -> datetime:
    """When the e2e stack began to start; a second earlier, for file-system timestamp granularity."""
    return datetime.now(UTC) - timedelta(seconds=1)


@pytest.fixture(scope="session")
async def e2e_stack(
    database_url: str, db_prefix: str, repo_root: Path, tmp_path_factory: pytest.TempPathFactory,
    e2e_started_at: datetime, trace_collector: TraceCollector,
) -> AsyncIterator[Stack]:
    """Fresh databases migrated from empty, topics, seed, three services and the gateway on free ports.

    The stack gets a broker of its own rather than the session's shared one: the services join the real
    consumer groups (`mediation.on-complaints`, ...) and read the real topics, which service-level tests also
    use; sharing them would let another test's consumer take this stack's events, or the reverse.
    """
    tracing = {"ODR_OTEL_ENABLED": "true", "ODR_OTEL_EXPORTER_ENDPOINT": trace_collector.endpoint}
    config = StackConfig(
        repo_root=repo_root,
        work_dir=tmp_path_factory.mktemp("e2e-stack"),
        secrets=StackSecrets.generate(),
        ports=Ports.free(),
        database_url=database_url,
        kafka_bootstrap=None,
        embedded_kafka_port=infra.free_port(),
        database_prefix=f"{db_prefix}_e2e",
        fresh_databases=True,
        environment="dev",
        # Every process exports its traces to the test's collector, as deployments do to theirs. Every sign-in comes
        # from this one address, many for the demo number: the text-message limits on sign-in codes would refuse them.
        settings_overrides={name: {**tracing, **E2E_SETTINGS.get(name, {})}
                            for name in ("complaints", "merchants", "mediation", GATEWAY)},
    )
    async with settled_stack(config) as stack:
        yield stack


@pytest.fixture(scope="session")
def demo(e2e_stack: Stack) -> dict[str, Any]:
    """What `make run` would write to .odr/demo.json for this stack."""
    return e2e_stack.demo_document()


FACTS = "购买的枸杞与网页宣传不符，商家拒绝退货。"


@pytest.fixture(scope="session")
def complaint_body(demo: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Builds the canonical request of architecture.md §5 against demo enterprise A."""

    def body(facts: str = FACTS) -> dict[str, Any]:
        purchased = (datetime.now(SHANGHAI) - timedelta(days=3)).date().isoformat()
        return {
            "kind": "complaint",
            "green_channel": True,
            "complainant": {"name": "王芳", "phone": demo["consumer_phone"], "address": "青海省格尔木市昆仑中路12号"},
            "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
            "request": {"type": "refund", "amount_fen": 29900},
            "facts": facts,
            "purchase": {"date": purchased, "amount_fen": 29900, "order_no": "JD2026112000123"},
            "sector": "online_shopping",
            "category": "food.local_specialty",
            "channel": "app",
        }

    return body


@pytest.fixture(scope="session")
async def gateway(e2e_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=e2e_stack.url(GATEWAY), timeout=10.0) as client:
        yield client


@pytest.fixture(scope="session")
async def consumer_token(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    """A consumer token by the OTP grant, using the code the gateway returns in dev mode."""
    otp = await gateway.post("/auth/otp", json={"phone": demo["consumer_phone"]})
    assert otp.status_code == 202, otp.text
    token = await gateway.post(
        "/auth/token", data={"grant_type": "otp", "phone": demo["consumer_phone"], "code": otp.json()["dev_code"]}
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    return str(token.json()["access_token"])


@pytest.fixture(scope="session")
async def regulator_token(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    """The demo regulator of Golmud (632801) by the password grant."""
    regulator = demo["regulator"]
    response = await gateway.post("/auth/token", data={"grant_type": "password", "username": regulator["username"],
                                                       "password": regulator["password"]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


Probe = Callable[[], Awaitable[Any]]
Eventually = Callable[..., Awaitable[Any]]


async def _eventually(probe: Probe, *, within: float = 15.0, what: str = "the condition") -> Any:
    """The first truthy answer of `probe`, asked every 0.2 s; fails naming `what` and the last answer when
    `within` seconds pass (events travel between services asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:.0f} s; last answer: {answer!r}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def eventually() -> Eventually:
    """`await eventually(probe, within=15, what=...)`: bounded polling instead of sleeping."""
    return _eventually


async def _client_credentials_token(gateway: httpx.AsyncClient, merchant: dict[str, Any]) -> str:
    form = {"grant_type": "client_credentials", "client_id": merchant["client_id"],
            "client_secret": merchant["client_secret"]}
    response = await gateway.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="session")
async def merchant_a_token(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    return await _client_credentials_token(gateway, demo["merchants"][0])


@pytest.fixture(scope="session")
async def merchant_b_token(gateway: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    return await _client_credentials_token(gateway, demo["merchants"][1])


@pytest.fixture(scope="session")
def database_dsn(e2e_stack: Stack) -> Callable[[str], str]:
    """asyncpg DSN of one service's database in this stack."""

    def dsn(service: str) -> str:
        return asyncpg_dsn(e2e_stack.database_url, e2e_stack.config.database_name(service))

    return dsn


TableCounts = Callable[[], Awaitable[dict[str, int]]]


@pytest.fixture(scope="session")
def complaints_row_counts(e2e_stack: Stack, database_dsn: Callable[[str], str]) -> TableCounts:
    """Rows per table in the complaints database, once every event in flight has been applied.

    Consumers apply events in the background; settling first keeps a before/after comparison about the
    requests under test.
    """

    async def settled() -> dict[str, int]:
        pending = await e2e_stack.wait_settled()
        assert not pending, f"events still in flight: {pending}"
        counts = await _table_counts(database_dsn("complaints"))
        # The statistics compactor folds deltas into the cubes on its own clock (every second): wait for it, so a
        # comparison sees what the requests wrote, not whether a fold happened in between.
        deadline = time.monotonic() + STATS_FOLD_WAIT
        while counts.get("stats_delta") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            counts = await _table_counts(database_dsn("complaints"))
        assert "outbox" in counts, f"the complaints database has no schema: {counts}"
        assert not counts.get("stats_delta"), "statistics deltas were not folded"
        return counts

    return settled


async def _table_counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        return {row["tablename"]: await connection.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"')
                for row in tables}
    finally:
        await connection.close()
