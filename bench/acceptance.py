"""Issue 16's acceptance by hand, against the platform `make run` is running from this checkout (its `.odr`).

1. 300 green-channel complaints filed by four consumers, eight at a time, while merchants (after 75) and mediation
   (after 150) are SIGKILLed; then every one is looked for on the enterprise's case list (all pages), among mediation's
   cases and among the webhook calls a receiver here got (one per webhook-id; repeats of an id counted apart).
2. PostgreSQL's postmaster SIGKILLed while filings arrive at 5/s, each sent once: every answer must be 201 or 503
   problem+json with Retry-After; the seconds until PostgreSQL and steady 201s are back are printed, and every filing
   answered 201 is looked for on the case list.

The enterprise's webhook points at 127.0.0.1, which the platform refuses unless `make run` was started with
ODR_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.1/32"]'. Set the same ODR_EMBEDDED_PG_PORT as `make run` if it was changed.

    .venv/bin/python -m bench.acceptance
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from aiohttp import web

REPO_ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
ROUTED = "complaints.complaint.routed.v1"
FILINGS = 300
CONSUMERS = 4
IN_FLIGHT = 8
KILL_AFTER = (("merchants", 75), ("mediation", 150))
RATE_DURING_POSTGRES_KILL = 5.0


@dataclass
class Platform:
    demo: dict[str, Any]
    pg_port: int
    merchant: dict[str, str] = field(default_factory=dict)
    consumers: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"


def service_pid(app: str) -> int:
    """The uvicorn process of `app` started from this checkout (the runner starts each in the repository root)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if f"{app}.main:create_app".encode() in command and Path(cwd) == REPO_ROOT:
            return int(entry.name)
    raise LookupError(f"no {app} process of this checkout is running")


def complaint(platform: Platform, facts: str, phone: str) -> dict[str, Any]:
    purchased = (datetime.now(SHANGHAI) - timedelta(days=3)).date().isoformat()
    return {"kind": "complaint", "green_channel": True,
            "complainant": {"name": "王芳", "phone": phone, "address": "青海省格尔木市昆仑中路12号"},
            "respondent": {"merchant_id": platform.demo["merchants"][0]["merchant_id"]},
            "request": {"type": "refund", "amount_fen": 9900}, "facts": facts,
            "purchase": {"date": purchased, "amount_fen": 9900, "order_no": "JD1"},
            "sector": "online_shopping", "category": "food.local_specialty", "channel": "app"}


async def sign_in(client: httpx.AsyncClient, platform: Platform) -> None:
    enterprise = platform.demo["merchants"][0]
    token = await client.post("/auth/token", data={"grant_type": "client_credentials",
                                                   "client_id": enterprise["client_id"],
                                                   "client_secret": enterprise["client_secret"]})
    token.raise_for_status()
    platform.merchant = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for number in range(CONSUMERS):
        phone = f"1391733{number:04d}"
        otp = await client.post("/auth/otp", json={"phone": phone})
        otp.raise_for_status()
        signed = await client.post("/auth/token", data={"grant_type": "otp", "phone": phone,
                                                        "code": otp.json()["dev_code"]})
        signed.raise_for_status()
        platform.consumers.append((phone, {"Authorization": f"Bearer {signed.json()['access_token']}"}))


async def case_list(client: httpx.AsyncClient, platform: Platform) -> list[str] | None:
    """Every complaint id on the enterprise's case list, duplicates kept; None while it cannot be read."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.get("/v1/merchant/cases", headers=platform.merchant,
                                params={"limit": "200", **({"cursor": cursor} if cursor else {})})
        if page.status_code != 200:
            return None
        ids += [item["complaint_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


async def mediation_cases(platform: Platform, filed: list[str]) -> list[str]:
    connection = await asyncpg.connect(platform.dsn("odr_mediation"))
    try:
        return [row[0] for row in await connection.fetch(
            "SELECT complaint_id::text FROM mediation_case WHERE complaint_id = ANY($1::uuid[])", filed)]
    finally:
        await connection.close()


def counted(filed: list[str], found: list[str]) -> dict[str, int]:
    mine = [item for item in found if item in set(filed)]
    return {"delivered": len(set(mine)), "duplicates": len(mine) - len(set(mine)), "lost": len(set(filed) - set(mine))}


async def services_killed(client: httpx.AsyncClient, platform: Platform,
                          calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    filed: list[str] = []
    killed: dict[str, int] = {}
    numbers = list(range(FILINGS))
    reached = {after: asyncio.Event() for _, after in KILL_AFTER}

    async def file_one(number: int) -> None:
        phone, consumer = platform.consumers[number % CONSUMERS]
        headers = {**consumer, "Idempotency-Key": str(uuid.uuid4())}
        while True:
            answer = await client.post("/v1/consumer/complaints", headers=headers,
                                       json=complaint(platform, f"手工验收投诉 {number}", phone))
            if answer.status_code == 201:
                filed.append(answer.json()["id"])
                if (count := reached.get(len(filed))) is not None:
                    count.set()
                return
            if answer.status_code != 503:
                raise RuntimeError(f"filing answered {answer.status_code}: {answer.text}")
            await asyncio.sleep(float(answer.headers["retry-after"]))

    async def filer() -> None:
        while numbers:
            await file_one(numbers.pop())

    async def killer() -> None:
        for name, after in KILL_AFTER:
            await reached[after].wait()
            os.kill(service_pid(name), signal.SIGKILL)
            killed[name] = len(filed)

    began = time.monotonic()
    await asyncio.gather(killer(), *(filer() for _ in range(IN_FLIGHT)))
    filing_seconds = time.monotonic() - began

    def hooked() -> list[str]:
        first_calls = {hook_id: payload for hook_id, payload in calls if payload["type"] == ROUTED}
        return [payload["data"]["complaint_id"] for payload in first_calls.values()]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = await case_list(client, platform) or []
        if set(filed) <= set(listed) & set(await mediation_cases(platform, filed)) & set(hooked()):
            break
        await asyncio.sleep(1)
    everywhere_seconds = time.monotonic() - began
    await asyncio.sleep(3)  # time for a late duplicate to show
    return {"part": "merchants and mediation SIGKILLed", "filed": len(filed), "killed_after": killed,
            "filing_seconds": round(filing_seconds, 1), "everywhere_after_s": round(everywhere_seconds, 1),
            "case_list": counted(filed, await case_list(client, platform) or []),
            "mediation": counted(filed, await mediation_cases(platform, filed)),
            "webhook": counted(filed, hooked()), "webhook_repeated_ids": len(calls) - len({c[0] for c in calls})}


async def postgres_killed(client: httpx.AsyncClient, platform: Platform) -> dict[str, Any]:
    postmaster = int((REPO_ROOT / ".odr" / "pgdata" / "postmaster.pid").read_text().split()[0])
    answers: list[tuple[float, int, str | None]] = []
    wrong: list[str] = []

    async def file_once(number: int) -> None:
        phone, consumer = platform.consumers[number % CONSUMERS]
        sent = time.monotonic()
        try:
            answer = await client.post("/v1/consumer/complaints",
                                       headers={**consumer, "Idempotency-Key": str(uuid.uuid4())},
                                       json=complaint(platform, f"数据库崩溃期间 {number}", phone))
        except httpx.TimeoutException:
            wrong.append("no answer within 15 s")
            return
        unavailable = answer.status_code == 503 and "retry-after" in answer.headers \
            and answer.headers["content-type"].startswith("application/problem+json")
        if answer.status_code != 201 and not unavailable:
            wrong.append(f"{answer.status_code} {answer.text[:100]}")
        answers.append((sent, answer.status_code, answer.json()["id"] if answer.status_code == 201 else None))

    async def accepting() -> bool:
        try:
            connection = await asyncpg.connect(platform.dsn("postgres"), timeout=0.5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    filings: list[asyncio.Task[None]] = []
    began = time.monotonic()
    killed_at = back_at = 0.0
    while time.monotonic() - began < 90:
        now = time.monotonic()
        if not killed_at and now - began > 3:
            os.kill(postmaster, signal.SIGKILL)
            killed_at = now
        elif killed_at and not back_at and now - killed_at > 0.5 and await accepting():
            back_at = time.monotonic()
        filings.append(asyncio.create_task(file_once(len(filings))))
        if back_at and sum(sent > back_at and status == 201 for sent, status, _ in answers) >= 25:
            break
        await asyncio.sleep(1 / RATE_DURING_POSTGRES_KILL)
    await asyncio.gather(*filings)
    last_503 = max((sent for sent, status, _ in answers if status == 503), default=killed_at)
    steady_201 = min((sent for sent, status, _ in answers if status == 201 and sent > last_503), default=None)
    accepted = [complaint_id for _, _, complaint_id in answers if complaint_id]
    for _ in range(60):
        if set(accepted) <= set(await case_list(client, platform) or []):
            break
        await asyncio.sleep(1)
    listed = await case_list(client, platform) or []
    return {"part": "PostgreSQL SIGKILLed", "sent": len(filings), "answered_201": len(accepted),
            "answered_503": sum(status == 503 for _, status, _ in answers), "wrong_answers": len(wrong),
            "first_wrong": wrong[:3], "postgres_back_after_s": round(back_at - killed_at, 1) if back_at else None,
            "last_503_after_kill_s": round(last_503 - killed_at, 1),
            "steady_201_after_kill_s": round(steady_201 - killed_at, 1) if steady_201 else None,
            "accepted": counted(accepted, listed)}


async def run() -> list[dict[str, Any]]:
    platform = Platform(demo=json.loads((REPO_ROOT / ".odr" / "demo.json").read_text()),
                        pg_port=int(os.environ.get("ODR_EMBEDDED_PG_PORT", "54329")))
    calls: list[tuple[str, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        calls.append((request.headers["webhook-id"], json.loads(await request.read())))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/odr/webhook", receive)
    receiver = web.AppRunner(app, access_log=None)
    await receiver.setup()
    site = web.TCPSite(receiver, "127.0.0.1", 0)
    await site.start()
    port = receiver.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=platform.demo["gateway"], timeout=15) as client:
            await sign_in(client, platform)
            hooked = await client.put("/v1/merchant/webhook", headers=platform.merchant,
                                      json={"url": f"http://127.0.0.1:{port}/odr/webhook", "events": [ROUTED]})
            if hooked.status_code != 200:
                raise RuntimeError(f"the webhook was refused ({hooked.status_code}): {hooked.text}")
            return [await services_killed(client, platform, calls), await postgres_killed(client, platform)]
    finally:
        await receiver.cleanup()


def main() -> int:
    results = asyncio.run(run())
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    services, postgres = results
    clean = all(services[where]["lost"] == services[where]["duplicates"] == 0
                for where in ("case_list", "mediation", "webhook"))
    return 0 if clean and postgres["wrong_answers"] == 0 and postgres["accepted"]["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
