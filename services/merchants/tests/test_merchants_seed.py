"""`python -m merchants.cli seed`: valid JSON on stdout, approved demo enterprises, nothing duplicated on re-run."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import httpx
import orjson
from merchants_testkit import VERIFY, internal_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.seed import DEMO_MERCHANTS
from merchants.settings import MerchantsSettings

PASSWORD = "golmud-demo-pass"


async def run_seed(settings: MerchantsSettings, *, password: str | None = PASSWORD) -> tuple[int, bytes, bytes]:
    env = {**os.environ, "ODR_DATABASE_URL": settings.database_url, "ODR_DATABASE_NAME": settings.database_name or ""}
    env.pop("ODR_DEMO_REGULATOR_PASSWORD", None)
    if password is not None:
        env["ODR_DEMO_REGULATOR_PASSWORD"] = password
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "merchants.cli", "seed", env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout, stderr


async def seed_ok(settings: MerchantsSettings) -> dict[str, Any]:
    code, stdout, stderr = await run_seed(settings)
    assert code == 0, stderr.decode()
    result: dict[str, Any] = orjson.loads(stdout)
    return result


async def demo_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    codes = [details.uscc for details in DEMO_MERCHANTS]
    async with sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT"
            " (SELECT count(*) FROM merchant WHERE uscc = ANY(:codes)) AS merchants,"
            " (SELECT count(*) FROM enrollment e JOIN merchant m ON m.id = e.merchant_id"
            "   WHERE m.uscc = ANY(:codes) AND e.status = 'approved') AS approved,"
            " (SELECT count(*) FROM api_client c JOIN merchant m ON m.id = c.merchant_id"
            "   WHERE m.uscc = ANY(:codes) AND c.revoked_at IS NULL) AS live_clients,"
            " (SELECT count(*) FROM outbox o JOIN merchant m ON o.aggregate_id = m.id::text"
            "   WHERE m.uscc = ANY(:codes) AND o.event_type = 'merchants.enrollment.approved.v1') AS approvals,"
            " (SELECT count(*) FROM staff_account"
            "   WHERE username IN ('reg-qinghai', 'reg-haixi', 'reg-golmud', 'reg-delingha'))"
            " AS regulators"
        ), {"codes": codes})).one()
    return dict(row._mapping)


async def test_seed_is_idempotent_and_rotates_printed_secrets(
    settings: MerchantsSettings, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    first = await seed_ok(settings)
    second = await seed_ok(settings)

    assert first["regulator"] == {"username": "reg-golmud", "password": PASSWORD, "region": "632801"}
    assert [(account["username"], account["region"]) for account in first["regulators"]] == [
        ("reg-qinghai", "630000"), ("reg-haixi", "632800"), ("reg-golmud", "632801"), ("reg-delingha", "632802")]
    assert {account["password"] for account in first["regulators"]} == {PASSWORD}
    assert [merchant["name"] for merchant in first["merchants"]] == [details.name for details in DEMO_MERCHANTS]
    assert {merchant["merchant_id"] for merchant in first["merchants"]} == {
        merchant["merchant_id"] for merchant in second["merchants"]}
    assert await demo_counts(sessionmaker) == {"merchants": 2, "approved": 2, "live_clients": 2, "approvals": 2,
                                               "regulators": 4}

    for old, new in zip(first["merchants"], second["merchants"], strict=True):
        assert new["client_id"] != old["client_id"]
        stale = await client.post(VERIFY, headers=internal_headers(), json={
            "grant_type": "client_credentials", "client_id": old["client_id"], "client_secret": old["client_secret"]})
        fresh = await client.post(VERIFY, headers=internal_headers(), json={
            "grant_type": "client_credentials", "client_id": new["client_id"], "client_secret": new["client_secret"]})
        assert stale.status_code == 401
        assert fresh.status_code == 200
        assert fresh.json()["merchant_id"] == new["merchant_id"]
        assert fresh.json()["region"] == "632801"

    assert [(merchant["portal_username"], merchant["portal_password"]) for merchant in second["merchants"]] == [
        ("kunlun-admin", PASSWORD), ("yanhu-admin", PASSWORD)]
    for merchant in second["merchants"]:
        portal = await client.post(VERIFY, headers=internal_headers(), json={
            "grant_type": "password", "username": merchant["portal_username"], "password": PASSWORD})
        assert portal.status_code == 200
        assert portal.json() == {"sub": merchant["portal_username"], "aud": "merchant",
                                 "roles": ["enterprise", "enterprise_admin"], "merchant_id": merchant["merchant_id"],
                                 "region": "632801"}

    regulator = await client.post(VERIFY, headers=internal_headers(), json={
        "grant_type": "password", "username": "reg-golmud", "password": PASSWORD})
    assert regulator.status_code == 200
    assert regulator.json() == {"sub": "reg-golmud", "aud": "regulator", "roles": ["regulator"], "region": "632801",
                                "station_id": None, "setup_required": []}
    assert first["staff_admin"] == {"username": "admin-haixi", "password": PASSWORD, "region": "632800"}
    admin = await client.post(VERIFY, headers=internal_headers(), json={
        "grant_type": "password", "username": "admin-haixi", "password": PASSWORD})
    assert admin.status_code == 200
    assert admin.json()["roles"] == ["regulator", "staff_admin"]

    assert first["stations"] == second["stations"]
    [station] = first["stations"]
    assert (station["username"], station["password"], station["region"]) == ("station-golmud", PASSWORD, "632801")
    staff = await client.post(VERIFY, headers=internal_headers(), json={
        "grant_type": "password", "username": "station-golmud", "password": PASSWORD})
    assert staff.status_code == 200
    assert staff.json() == {"sub": "station-golmud", "aud": "regulator", "roles": ["station_staff"],
                            "region": "632801", "station_id": station["station_id"], "setup_required": []}
    listed = await client.get("/v1/public/stations", params={"region": "632801"})
    assert [item["name"] for item in listed.json()["items"]] == [station["name"]]


async def test_seed_without_the_regulator_password_fails_and_prints_nothing(settings: MerchantsSettings) -> None:
    code, stdout, stderr = await run_seed(settings, password=None)
    assert code != 0
    assert stdout == b""
    assert b"demo_regulator_password" in stderr
